// The broker layer's pure parts: model validation, rabbitmq.conf and definitions.json renderers,
// least-privilege permissions. Table tests for the interesting lines, properties over the input range.
import { randomBytes } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BrokerModel, deadLetterQueueName, DEAD_LETTER_EXCHANGE, PUBLISH_EXCHANGES, validateBrokerModel } from "../../components/broker/broker-model";
import { rabbitDiskFreeLimitBytes, rabbitMemoryPlan, renderRabbitConf } from "../../components/broker/rabbitmq-conf";
import { buildDefinitions, rabbitPasswordHash, renderDefinitions, UserCredential } from "../../components/broker/rabbitmq-definitions";
import { servicePermissions } from "../../components/broker/rabbitmq-permissions";

const MIB = 1024 * 1024;

function confValues(conf: string): Record<string, string> {
  return Object.fromEntries(
    conf
      .split("\n")
      .filter((line) => line.includes("=") && !line.startsWith("#"))
      .map((line) => line.split("=").map((part) => part.trim()) as [string, string]),
  );
}

/** Generated per call, like the stack's RandomPassword and RandomBytes; `seed` lets a property vary them too. */
function credentials(model: BrokerModel, seed = ""): { services: Record<string, UserCredential>; admin: UserCredential } {
  const credential = (): UserCredential => ({ password: `${seed}${randomBytes(18).toString("base64url")}`, saltBase64: randomBytes(4).toString("base64") });
  return { services: Object.fromEntries(model.services.map((service) => [service.name, credential()])), admin: credential() };
}

const MODEL: BrokerModel = {
  services: [
    { name: "users", publishes: ["events"] },
    { name: "mailer", publishes: ["commands"] },
  ],
  queues: [
    { name: "mailer.user-created", routingKeys: ["user.created", "user.*.verified"], consumers: ["mailer"], deliveryLimit: 3, messageTtlMs: 60_000, maxLength: 1000 },
    { name: "mailer.send", exchange: "commands", routingKeys: ["mail.send"], consumers: ["mailer"] },
  ],
};

const TLS = { caFile: "/etc/rabbitmq/tls/ca.crt", certFile: "/etc/rabbitmq/tls/tls.crt", keyFile: "/etc/rabbitmq/tls/tls.key" };

describe("renderRabbitConf", () => {
  it.each([
    { memoryMiB: 1024, storageGiB: 10, relative: "0.60", diskFree: 1024 * MIB },
    { memoryMiB: 256, storageGiB: 10, relative: "0.50", diskFree: 256 * MIB },
    { memoryMiB: 300, storageGiB: 10, relative: "0.57", diskFree: 300 * MIB },
    { memoryMiB: 4096, storageGiB: 4, relative: "0.60", diskFree: 1024 * MIB },
  ])("sizes memory and disk for $memoryMiB MiB and $storageGiB GiB", ({ memoryMiB, storageGiB, relative, diskFree }) => {
    const values = confValues(renderRabbitConf({ memoryMiB, storageGiB, tls: TLS }));
    expect(values.total_memory_available_override_value).toBe(String(memoryMiB * MIB));
    expect(values["vm_memory_high_watermark.relative"]).toBe(relative);
    expect(values["disk_free_limit.absolute"]).toBe(String(diskFree));
  });

  it("turns on per-object metrics, loads definitions, and keeps guest to loopback", () => {
    const values = confValues(renderRabbitConf({ memoryMiB: 512, storageGiB: 5, tls: TLS }));
    expect(values).toMatchObject({
      "prometheus.return_per_object_metrics": "true",
      load_definitions: "/etc/rabbitmq/definitions.json",
      "loopback_users.guest": "true",
      "prometheus.tcp.port": "15692",
    });
  });

  it("listens for AMQPS and HTTPS only, with the platform leaf, TLS 1.2 and 1.3, and asks no client for a certificate", () => {
    const values = confValues(renderRabbitConf({ memoryMiB: 512, storageGiB: 5, tls: TLS }));
    expect(values).toMatchObject({
      "listeners.tcp": "none",
      "listeners.ssl.default": "5671",
      "ssl_options.cacertfile": TLS.caFile,
      "ssl_options.certfile": TLS.certFile,
      "ssl_options.keyfile": TLS.keyFile,
      "ssl_options.verify": "verify_none",
      "ssl_options.fail_if_no_peer_cert": "false",
      "ssl_options.versions.1": "tlsv1.3",
      "ssl_options.versions.2": "tlsv1.2",
      "management.ssl.port": "15671",
      "management.ssl.cacertfile": TLS.caFile,
      "management.ssl.certfile": TLS.certFile,
      "management.ssl.keyfile": TLS.keyFile,
      "management.ssl.versions.1": "tlsv1.3",
      "management.ssl.versions.2": "tlsv1.2",
    });
    expect(Object.keys(values).filter((key) => key.startsWith("management.tcp") || key.startsWith("listeners.tcp."))).toEqual([]);
    expect(() => renderRabbitConf({ memoryMiB: 512, storageGiB: 5, tls: { ...TLS, certFile: "tls.crt" } })).toThrow(/rabbitmq tls\.certFile: must be an absolute path .*\(got "tls\.crt"\)/);
  });

  it("refuses a container too small for the broker, naming the field", () => {
    expect(() => renderRabbitConf({ memoryMiB: 128, storageGiB: 5, tls: TLS })).toThrow("memoryMiB: must be an integer of at least 256 (got 128)");
    expect(() => renderRabbitConf({ memoryMiB: 512, storageGiB: 0, tls: TLS })).toThrow("storageGiB: must be at least 1 (got 0)");
  });

  it("keeps the watermark below the limit with room for the VM, for every container size", () => {
    fc.assert(
      fc.property(fc.integer({ min: 256, max: 1 << 20 }), (memoryMiB) => {
        const plan = rabbitMemoryPlan(memoryMiB);
        expect(plan.watermarkBytes).toBeLessThan(plan.totalBytes);
        expect(plan.totalBytes - plan.watermarkBytes).toBeGreaterThanOrEqual(128 * MIB);
        expect(plan.relative).toBeGreaterThanOrEqual(0.4);
        expect(plan.relative).toBeLessThanOrEqual(0.6);
      }),
    );
  });

  it("keeps the free-disk alarm threshold well inside the volume", () => {
    fc.assert(
      fc.property(fc.integer({ min: 256, max: 1 << 20 }), fc.integer({ min: 1, max: 100_000 }), (memoryMiB, storageGiB) => {
        const limit = rabbitDiskFreeLimitBytes(memoryMiB, storageGiB);
        expect(limit).toBeLessThanOrEqual((storageGiB * 1024 * MIB) / 4);
        expect(limit).toBeGreaterThanOrEqual(50_000_000);
      }),
    );
  });
});

describe("renderDefinitions", () => {
  const definitions = buildDefinitions({ model: MODEL, ...credentials(MODEL) });

  it("declares the vhost and the three exchanges", () => {
    expect(definitions.vhosts).toEqual([{ name: "fundament" }]);
    expect(definitions.exchanges.map(({ name, type, durable }) => ({ name, type, durable }))).toEqual([
      { name: "events", type: "topic", durable: true },
      { name: "commands", type: "direct", durable: true },
      { name: "dlx", type: "topic", durable: true },
    ]);
  });

  it("declares every queue and its dlq as durable quorum queues, bound as the model says", () => {
    expect(definitions.queues.map((queue) => [queue.name, queue.durable, queue.arguments["x-queue-type"]])).toEqual([
      ["mailer.user-created", true, "quorum"],
      ["mailer.user-created.dlq", true, "quorum"],
      ["mailer.send", true, "quorum"],
      ["mailer.send.dlq", true, "quorum"],
    ]);
    expect(definitions.bindings.map((binding) => `${binding.source} -[${binding.routing_key}]-> ${binding.destination}`)).toEqual([
      "events -[user.created]-> mailer.user-created",
      "events -[user.*.verified]-> mailer.user-created",
      "dlx -[mailer.user-created]-> mailer.user-created.dlq",
      "commands -[mail.send]-> mailer.send",
      "dlx -[mailer.send]-> mailer.send.dlq",
    ]);
  });

  it("dead-letters by policy, at least once, with the queue's limits", () => {
    expect(definitions.policies[0]).toEqual({
      name: "dead-letter.mailer.user-created",
      vhost: "fundament",
      pattern: "^(mailer\\.user\\-created)$",
      "apply-to": "queues",
      priority: 10,
      definition: {
        "dead-letter-exchange": "dlx",
        "dead-letter-routing-key": "mailer.user-created",
        "dead-letter-strategy": "at-least-once",
        overflow: "reject-publish",
        "delivery-limit": 3,
        "message-ttl": 60_000,
        "max-length": 1000,
      },
    });
    expect(definitions.policies[1]?.definition).not.toHaveProperty("message-ttl");
    expect(definitions.policies[1]?.definition["delivery-limit"]).toBe(5);
  });

  it("gives each service only its own resources and the admin everything", () => {
    const byUser = Object.fromEntries(definitions.permissions.map(({ user, configure, write, read }) => [user, { configure, write, read }]));
    expect(byUser).toEqual({
      admin: { configure: ".*", write: ".*", read: ".*" },
      users: { configure: "^$", write: "^(events)$", read: "^$" },
      mailer: { configure: "^(mailer\\.user\\-created|mailer\\.send)$", write: "^(commands|dlx)$", read: "^(mailer\\.user\\-created|mailer\\.send)$" },
    });
    expect(definitions.topic_permissions).toEqual([{ user: "mailer", vhost: "fundament", exchange: "dlx", write: "^(mailer\\.user\\-created|mailer\\.send)$", read: "^$" }]);
    expect(definitions.users.map(({ name, tags, hashing_algorithm }) => ({ name, tags, hashing_algorithm }))).toEqual([
      { name: "admin", tags: ["administrator"], hashing_algorithm: "rabbit_password_hashing_sha256" },
      { name: "users", tags: [], hashing_algorithm: "rabbit_password_hashing_sha256" },
      { name: "mailer", tags: [], hashing_algorithm: "rabbit_password_hashing_sha256" },
    ]);
  });

  it("stores salted SHA-256 hashes, never the passwords", () => {
    const input = { model: MODEL, ...credentials(MODEL) };
    const text = renderDefinitions(input);
    for (const credential of [input.admin, ...Object.values(input.services)]) {
      expect(text).not.toContain(credential.password);
      const hash = Buffer.from(rabbitPasswordHash(credential.password, credential.saltBase64), "base64");
      expect(hash.length).toBe(36);
      expect(hash.subarray(0, 4).toString("base64")).toBe(credential.saltBase64);
    }
    expect(rabbitPasswordHash("same", "AAAAAA==")).not.toBe(rabbitPasswordHash("same", "AQIDBA=="));
    expect(() => rabbitPasswordHash("pw", "AAA=")).toThrow("password salt: must be 4 bytes of base64 (got 2 bytes)");
  });
});

describe("validateBrokerModel", () => {
  it("accepts a well-formed model", () => {
    expect(validateBrokerModel(MODEL, "fundament:broker")).toEqual([]);
  });

  it.each([
    [{ ...MODEL, queues: [{ ...MODEL.queues[0], name: "X" }] }, 'fundament:broker.queues[0].name: must match ^[a-z][a-z0-9.-]*$ (got "X")'],
    [{ ...MODEL, queues: [{ ...MODEL.queues[0], name: "orders.dlq" }] }, 'fundament:broker.queues[0].name: the .dlq suffix is reserved for dead-letter queues (got "orders.dlq")'],
    [{ ...MODEL, queues: [{ ...MODEL.queues[0], name: "events" }] }, 'fundament:broker.queues[0].name: "events" is the name of an exchange; permissions could not tell them apart'],
    [{ ...MODEL, queues: [{ ...MODEL.queues[0], consumers: ["billing"] }] }, 'fundament:broker.queues[0].consumers[0]: unknown service "billing" (services: users, mailer)'],
    [{ ...MODEL, queues: [{ ...MODEL.queues[0], deliveryLimit: 0 }] }, "fundament:broker.queues[0].deliveryLimit: must be between 1 and 1000 (got 0)"],
    [{ ...MODEL, queues: [{ ...MODEL.queues[0], messageTtlMs: 1.5 }] }, "fundament:broker.queues[0].messageTtlMs: must be an integer (got 1.5)"],
    [{ ...MODEL, queues: [{ ...MODEL.queues[1], routingKeys: ["mail.*"] }] }, 'fundament:broker.queues[0].routingKeys[0]: must be a dotted lowercase key without wildcards (commands is a direct exchange) (got "mail.*")'],
    [{ ...MODEL, queues: [{ ...MODEL.queues[0], routingKeys: [] }] }, "fundament:broker.queues[0].routingKeys: must name at least one routing key"],
    [{ ...MODEL, queues: [{ ...MODEL.queues[0], exchange: "dlx" }] }, 'fundament:broker.queues[0].exchange: must be one of events, commands (got "dlx")'],
    [{ ...MODEL, queues: [MODEL.queues[0], MODEL.queues[0]] }, 'fundament:broker.queues[1].name: duplicate queue "mailer.user-created"'],
    [{ ...MODEL, services: [...MODEL.services, { name: "admin", publishes: [] }] }, 'fundament:broker.services[2].name: "admin" is reserved for the management UI user'],
    [{ ...MODEL, services: [{ name: "users", publishes: ["dlx"] }, MODEL.services[1]] }, 'fundament:broker.services[0].publishes[0]: must be one of events, commands (got "dlx")'],
    [{ ...MODEL, queue: [] }, "fundament:broker.queue: unknown key (allowed: queues, services)"],
    ["nope", 'fundament:broker: must be an object with queues and services (got "nope")'],
  ])("reports %#: %s", (model, message) => {
    expect(validateBrokerModel(model, "fundament:broker")).toContain(message);
  });

  it("reports every problem at once", () => {
    const problems = validateBrokerModel({ services: [{ name: "Bad", publishes: "events" }], queues: [{ name: "", routingKeys: ["a"], consumers: [] }] }, "k");
    expect(problems).toEqual([
      'k.services[0].name: must match ^[a-z][a-z0-9-]*$ (got "Bad")',
      'k.services[0].publishes: must be a list of strings (got "events")',
      'k.queues[0].name: must match ^[a-z][a-z0-9.-]*$ (got "")',
      "k.queues[0].consumers: must name at least one consuming service",
    ]);
  });
});

const serviceName = fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/).filter((name) => name !== "admin");
const queueName = fc.stringMatching(/^[a-z][a-z0-9.-]{0,16}$/).filter((name) => !name.endsWith(".dlq") && !["events", "commands", "dlx"].includes(name) && !name.startsWith("amq."));

/** Valid models of any shape: services that publish or not, queues consumed by any of them. */
const models: fc.Arbitrary<BrokerModel> = fc
  .uniqueArray(serviceName, { minLength: 1, maxLength: 6 })
  .chain((services) =>
    fc.record({
      services: fc.tuple(...services.map((name) => fc.subarray([...PUBLISH_EXCHANGES]).map((publishes) => ({ name, publishes })))),
      queues: fc.uniqueArray(queueName, { maxLength: 8 }).chain((names) =>
        fc.tuple(
          ...names.map((name) =>
            fc.record(
              {
                name: fc.constant(name),
                routingKeys: fc.uniqueArray(fc.stringMatching(/^[a-z]{1,6}(\.[a-z]{1,6}){0,2}$/), { minLength: 1, maxLength: 3 }),
                exchange: fc.constantFrom<"events" | "commands">("events", "commands"),
                deliveryLimit: fc.integer({ min: 1, max: 1000 }),
                messageTtlMs: fc.integer({ min: 1, max: 86_400_000 }),
                maxLength: fc.integer({ min: 1, max: 1_000_000 }),
                consumers: fc.subarray(services, { minLength: 1 }),
              },
              { requiredKeys: ["name", "routingKeys", "consumers"] },
            ),
          ),
        ),
      ),
    }),
  );

describe("definitions for any valid model", () => {
  it("pass validation", () => {
    fc.assert(
      fc.property(models, (model) => {
        expect(validateBrokerModel(model, "k")).toEqual([]);
      }),
    );
  });

  it("give every queue a quorum dlq bound to dlx and a dead-letter policy", () => {
    fc.assert(
      fc.property(models, (model) => {
        const definitions = buildDefinitions({ model, ...credentials(model) });
        const problems: string[] = [];
        for (const queue of model.queues) {
          const dlq = deadLetterQueueName(queue.name);
          if (definitions.queues.find((candidate) => candidate.name === dlq)?.arguments["x-queue-type"] !== "quorum") problems.push(`${dlq}: not a quorum queue`);
          if (!definitions.bindings.some((b) => b.source === DEAD_LETTER_EXCHANGE && b.destination === dlq && b.routing_key === queue.name)) problems.push(`${dlq}: not bound to dlx`);
          const policies = definitions.policies.filter((policy) => new RegExp(policy.pattern).test(queue.name));
          const definition = policies[0]?.definition;
          if (policies.length !== 1) problems.push(`${queue.name}: ${policies.length} policies apply`);
          else if (
            definition?.["dead-letter-exchange"] !== DEAD_LETTER_EXCHANGE ||
            definition["dead-letter-routing-key"] !== queue.name ||
            definition["dead-letter-strategy"] !== "at-least-once" ||
            definition.overflow !== "reject-publish"
          ) {
            problems.push(`${queue.name}: policy does not dead-letter at least once into its dlq`);
          }
          if (definitions.policies.some((policy) => new RegExp(policy.pattern).test(dlq))) problems.push(`${dlq}: a source-queue policy applies to it`);
        }
        expect(problems).toEqual([]);
      }),
      { numRuns: 60 },
    );
  });

  it("grant each service exactly its own queues and exchanges, nothing else", () => {
    fc.assert(
      fc.property(models, (model) => {
        const queues = model.queues.flatMap((queue) => [queue.name, deadLetterQueueName(queue.name)]);
        const exchanges = [...PUBLISH_EXCHANGES, DEAD_LETTER_EXCHANGE, "amq.default", "amq.topic"];
        const problems: string[] = [];
        for (const service of model.services) {
          const granted = servicePermissions(model, service.name);
          const own = model.queues.filter((queue) => queue.consumers.includes(service.name)).map((queue) => queue.name);
          const writes = [...service.publishes, ...(own.length > 0 ? [DEAD_LETTER_EXCHANGE] : [])];
          const rules: [string, string, string[]][] = [
            ["read", granted.read, own],
            ["configure", granted.configure, own],
            ["write", granted.write, writes],
            ["dlx routing keys", granted.deadLetterWrite, own],
          ];
          for (const [kind, pattern, allowed] of rules) {
            const regex = new RegExp(pattern);
            for (const resource of [...queues, ...exchanges]) {
              if (regex.test(resource) !== allowed.includes(resource)) problems.push(`${service.name} ${kind} ${pattern} vs ${resource}`);
            }
          }
        }
        expect(problems).toEqual([]);
      }),
      { numRuns: 60 },
    );
  });

  it("never contain a password", () => {
    fc.assert(
      fc.property(models, fc.stringMatching(/^[A-Za-z0-9]{8,16}$/), (model, seed) => {
        const input = { model, ...credentials(model, seed) };
        const text = renderDefinitions(input);
        return [input.admin, ...Object.values(input.services)].every((credential) => !text.includes(credential.password));
      }),
      { numRuns: 60 },
    );
  });
});
