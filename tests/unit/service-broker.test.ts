import { describe, expect, it } from "vitest";
import { validateBrokerModel } from "../../components/broker/broker-model";
import { buildDefinitions } from "../../components/broker/rabbitmq-definitions";
import { servicePermissions } from "../../components/broker/rabbitmq-permissions";
import { brokerModelFor, SERVICE_BROKER_RESOURCES } from "../../components/services/service-broker";
import { COMMAND_TYPES, GPU_JOB_QUEUES } from "../../services/gpu-jobs/src/messages/gpu-job-messages";

const credential = { password: "p", saltBase64: "AAAAAA==" };

describe("the services' own broker resources", () => {
  const model = brokerModelFor(["users", "config", "gpu-jobs"], [{ name: "mailer.user-created", routingKeys: ["user.created"], consumers: ["users"] }]);

  it("declares exactly the queues gpu-jobs consumes, each bound on commands by the key its commands are sent with", () => {
    const own = SERVICE_BROKER_RESOURCES["gpu-jobs"].queues;
    expect(own.map((queue) => queue.name).sort()).toEqual(Object.values(GPU_JOB_QUEUES).sort());
    for (const type of Object.values(COMMAND_TYPES)) {
      const queue = own.find((candidate) => candidate.routingKeys.includes(type.routingKey));
      expect(queue?.exchange, type.name).toBe(type.exchange);
    }
    expect(validateBrokerModel(model, "fundament:rabbitmq")).toEqual([]);
  });

  it("renders each gpu-jobs queue as a quorum queue with a dlq and a dead-letter policy, after the services' queues the config's", () => {
    const definitions = buildDefinitions({ model, services: { users: credential, config: credential, "gpu-jobs": credential }, admin: credential });
    for (const queue of Object.values(GPU_JOB_QUEUES)) {
      expect(definitions.queues.filter((entry) => entry.name === queue || entry.name === `${queue}.dlq`).map((entry) => entry.arguments["x-queue-type"])).toEqual(["quorum", "quorum"]);
      expect(definitions.bindings).toContainEqual(expect.objectContaining({ source: "commands", destination: queue, routing_key: queue }));
      expect(definitions.policies.find((policy) => policy.name === `dead-letter.${queue}`)?.definition).toMatchObject({ "dead-letter-exchange": "dlx", "dead-letter-routing-key": queue, "delivery-limit": 5 });
    }
    expect(definitions.queues.map((queue) => queue.name).at(-2)).toBe("mailer.user-created");
  });

  it("limits the gpu-jobs user to its own queues: it publishes to events and commands, and reads and declares nothing else", () => {
    const granted = servicePermissions(model, "gpu-jobs");
    const read = new RegExp(granted.read);
    for (const queue of Object.values(GPU_JOB_QUEUES)) expect(read.test(queue)).toBe(true);
    for (const other of ["mailer.user-created", "gpu-jobs.launch.dlq", "gpu-jobs.launchx", "events"]) expect(read.test(other), other).toBe(false);
    expect(granted.configure).toBe(granted.read);
    const write = new RegExp(granted.write);
    expect(["events", "commands", "dlx", "amq.default"].filter((exchange) => write.test(exchange))).toEqual(["events", "commands", "dlx"]);
    // users publishes events only, and still reads nothing of gpu-jobs.
    expect(new RegExp(servicePermissions(model, "users").write).test("commands")).toBe(false);
  });

  it("reports a configured queue that takes a gpu-jobs queue's name", () => {
    const clash = brokerModelFor(["gpu-jobs"], [{ name: "gpu-jobs.launch", exchange: "commands", routingKeys: ["gpu-jobs.launch"], consumers: ["gpu-jobs"] }]);
    expect(validateBrokerModel(clash, "fundament:rabbitmq")).toEqual([`fundament:rabbitmq.queues[3].name: duplicate queue "gpu-jobs.launch"`]);
  });
});
