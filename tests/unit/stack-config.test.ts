import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { loadStackConfig, StackConfigError } from "../../components/config";
import { readStackConfig } from "../../scripts/mock-engine";

function problemsOf(config: Record<string, unknown>): string[] {
  const raw = Object.fromEntries(Object.entries(config).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]));
  try {
    loadStackConfig("dev", raw);
  } catch (error) {
    if (error instanceof StackConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe("stack config", () => {
  it("loads both stacks' files with defaults filled in", () => {
    const dev = loadStackConfig("dev", readStackConfig("dev"));
    expect(dev.target).toBe("docker");
    expect(dev.environment).toBe("dev");
    expect(dev.docker.publishAddress).toBe("127.0.0.1");
    expect(dev.services.users.databases).toContain("postgres");
    const prod = loadStackConfig("prod", readStackConfig("prod"));
    expect(prod.target).toBe("kubernetes");
    expect(prod.kubernetes.namespace).toBe("fundament-prod");
    expect(prod.postgres.memoryMiB).toBe(8192);
  });

  it.each([
    [{ "fundament:target": "docker", "fundament:targte": "x" }, "fundament:targte: unknown key (did you mean fundament:target?)"],
    [{}, "fundament:target: required"],
    [{ "fundament:target": "nomad" }, "fundament:target: must be one of docker, kubernetes (got \"nomad\")"],
    [{ "fundament:target": "docker", "fundament:postgres": { memoryMiB: 64 } }, "fundament:postgres.memoryMiB: must be at least 256 (got 64)"],
    [{ "fundament:target": "docker", "fundament:postgres": { memoryMiB: "lots" } }, "fundament:postgres.memoryMiB: must be a number (got \"lots\")"],
    [{ "fundament:target": "docker", "fundament:postgres": { cpu: 0 } }, "fundament:postgres.cpu: must be at least 0.1 (got 0)"],
    [{ "fundament:target": "docker", "fundament:redis": { image: "redis" } }, "fundament:redis.image: must be pinned to a tag or digest (got \"redis\")"],
    [{ "fundament:target": "docker", "fundament:redis": { image: "redis:latest" } }, "fundament:redis.image: must not use the moving tag latest"],
    [{ "fundament:target": "docker", "fundament:mongo": { image: "Mongo:8" } }, "fundament:mongo.image: is not a valid image reference"],
    [{ "fundament:target": "docker", "fundament:postgres": { memroyMiB: 512 } }, "fundament:postgres.memroyMiB: unknown key (did you mean fundament:postgres.memoryMiB?)"],
    [{ "fundament:target": "docker", "fundament:backup": { schedule: "0 25 * * *" } }, "fundament:backup.schedule: is not a valid cron expression: hour 25 is outside 0-23"],
    [{ "fundament:target": "docker", "fundament:redis": { evictionPolicy: "lru" } }, "fundament:redis.evictionPolicy: must be one of noeviction"],
    [{ "fundament:target": "docker", "fundament:services": { users: { databases: ["mysql"] } } }, "fundament:services.users.databases[0]: must be one of postgres, redis, mongo, rabbitmq (got \"mysql\")"],
    [{ "fundament:target": "docker", "fundament:services": { billing: {} } }, "fundament:services.billing: unknown key"],
    [{ "fundament:target": "docker", "fundament:mongo": { databases: [{ service: "media", indexes: [{ keys: { email: 1 } }] }] } }, "fundament:mongo.databases[0].indexes[0].collection: required"],
    [{ "fundament:target": "docker", "fundament:mongo": { databases: [{ service: "media", indexes: [{ collection: "u", keys: { email: 2 } }] }] } }, "fundament:mongo.databases[0].indexes[0].keys.email: must be one of 1, -1 (got 2)"],
    [{ "fundament:target": "docker", "fundament:mongo": { databases: [{ service: "media" }, { service: "media" }] } }, "fundament:mongo.databases[1].service: media already has a MongoDB database"],
    [{ "fundament:target": "docker", "fundament:services": { config: { databases: ["postgres"] } } }, "fundament:services.config.databases: the config service needs postgres, redis, rabbitmq (missing redis, rabbitmq)"],
    [{ "fundament:target": "docker", "fundament:services": { config: { databases: ["postgres", "redis", "rabbitmq", "mongo"] } } }, "fundament:services.config.databases: the config service cannot have a MongoDB database"],
    [{ "fundament:target": "docker", "fundament:mongo": { databases: [{ service: "admin" }] } }, "fundament:mongo.databases[0].service: \"admin\" is a database MongoDB reserves"],
    [{ "fundament:target": "kubernetes" }, "fundament:imageRegistry: local images exist only on a Docker engine"],
    [{ "fundament:target": "docker", "fundament:pgbouncer": { defaultPoolSize: 60 } }, "fundament:pgbouncer.defaultPoolSize: 60 per database x 3 databases plus 2 direct LISTEN sessions (one per config and users replica) exceeds fundament:postgres.maxConnections (100)"],
    // 25 x 3 = 75 pooled and the config replicas' 10 LISTEN sessions fit the 90 left after the
    // reserve; the users replicas' 10 (its account feed), up to the autoscaler's maximum, do not.
    [
      { "fundament:target": "kubernetes", "fundament:imageRegistry": "ecr", "fundament:pgbouncer": { defaultPoolSize: 25 }, "fundament:autoscaling": { maxReplicas: 10 } },
      "fundament:pgbouncer.defaultPoolSize: 25 per database x 3 databases plus 20 direct LISTEN sessions (one per config and users replica) exceeds fundament:postgres.maxConnections (100) less 10 reserved",
    ],
    [{ "fundament:target": "docker", "fundament:storage": { provider: "s3" } }, "fundament:storage.provider: s3 needs the kubernetes target"],
    [{ "fundament:target": "docker", "fundament:rabbitmq": { queues: [{ name: "Bad Name", routingKeys: ["x"], consumers: ["users"] }] } }, "fundament:rabbitmq.queues[0].name"],
    [{ "fundament:target": "docker", "fundament:rabbitmq": { queues: [{ name: "jobs", routingKeys: ["job.*"], consumers: ["nobody"] }] } }, "fundament:rabbitmq.queues[0].consumers[0]"],
    [{ "fundament:target": "docker", "fundament:docker": { publishAddress: "everywhere" } }, "fundament:docker.publishAddress: must be an IPv4 address"],
    [{ "fundament:target": "docker", "fundament:tls": { validityHours: 100, earlyRenewalHours: 100 } }, "fundament:tls.earlyRenewalHours: must be less than fundament:tls.validityHours (100), or every `pulumi up` re-issues the certificates (got 100)"],
    [{ "fundament:target": "docker", "fundament:tls": { validityHours: 12 } }, "fundament:tls.validityHours: must be at least 24 (got 12)"],
    [{ "fundament:target": "docker", "fundament:monitoring": { traceSampleRatio: 10 } }, "fundament:monitoring.traceSampleRatio: must be at most 1 (got 10)"],
    [{ "fundament:target": "docker", "fundament:redis": { memoryMiB: 12.5 } }, "fundament:redis.memoryMiB: must be a whole number (got 12.5)"],
    [{ "fundament:target": "docker", "fundament:gpuJobs": { apiKeys: { runpd: "k" } } }, "fundament:gpuJobs.apiKeys.runpd: unknown key (did you mean fundament:gpuJobs.apiKeys.runpod?)"],
    [{ "fundament:target": "docker", "fundament:postgres": "big" }, "fundament:postgres: must be an object with keys image, exporterImage, cpu, memoryMiB, storageGiB, maxConnections (got \"big\")"],
    [{ "fundament:target": "docker", "fundament:cluster": { logRetentionDays: 10 } }, "fundament:cluster.logRetentionDays: must be one of 1, 3, 5, 7, 14, 30,"],
    [{ "fundament:target": "docker", "fundament:gpuJobs": { offers: [{ provider: "aws", type: "a10g", gpuModel: "A10G", gpuMemoryGiB: 24, gpuCount: 1, region: "eu-central-1", spot: "maybe", pricePerHour: -1 }] } }, "fundament:gpuJobs.offers[0].pricePerHour: must be greater than 0 (got -1)"],
  ])("rejects %j naming the key", (config, expected) => {
    const problems = problemsOf(config);
    expect(problems.find((p) => p.startsWith(expected)), problems.join("\n")).toBeDefined();
  });

  it("names every problem of a config at once, one line each", () => {
    const problems = problemsOf({ "fundament:target": "nomad", "fundament:postgres": { memoryMiB: 1, cpu: -1 }, "fundament:nope": "x" });
    expect(problems).toHaveLength(4);
    for (const problem of problems) expect(problem).toMatch(/^fundament:[a-zA-Z.:\[\]0-9]+: /);
  });

  it("never echoes a secret it refuses", () => {
    const problems = problemsOf({ "fundament:target": "docker", "fundament:monitoring": { receivers: { slack: { webhookUrl: "hooks.example/T000/s3cret-token" } } } });
    expect(problems).toEqual(["fundament:monitoring.receivers.slack.webhookUrl: must be an http:// or https:// URL (got a secret value, not shown)"]);
  });

  it("fills defaults into its own copy: the values it was given stay as they were", () => {
    const config = { "fundament:target": "docker", "fundament:postgres": JSON.stringify({ memoryMiB: 2048 }) };
    const before = structuredClone(config);
    const loaded = loadStackConfig("dev", config);
    expect(loaded.postgres).toMatchObject({ memoryMiB: 2048, cpu: 2, maxConnections: 100 });
    expect(loaded.services["gpu-jobs"].databases).toEqual(["postgres", "redis", "rabbitmq"]);
    expect(config).toEqual(before);
  });

  it("accepts any in-range size and keeps the value", () => {
    fc.assert(
      fc.property(fc.integer({ min: 2048, max: 65536 }), fc.integer({ min: 1, max: 64 }), fc.integer({ min: 128, max: 8192 }), (pgMemory, cpu, redisMemory) => {
        const config = loadStackConfig("dev", {
          "fundament:target": "kubernetes",
          "fundament:imageRegistry": "ecr",
          "fundament:postgres": JSON.stringify({ memoryMiB: pgMemory, cpu }),
          "fundament:redis": JSON.stringify({ memoryMiB: redisMemory }),
        });
        return config.postgres.memoryMiB === pgMemory && config.postgres.cpu === cpu && config.redis.memoryMiB === redisMemory;
      }),
      { numRuns: 50 },
    );
  });
});
