import { createLogger, type ServiceApp } from "@fundament/kit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../../../scripts/local-servers/free-port";
import { buildApp } from "../src/app";
import { loadUsersConfig } from "../src/config";
import { connectDependencies } from "../src/dependencies";
import { BOOT_TIMEOUT_MS, startUsersTestEnvironment, type UsersTestEnvironment } from "./support/users-test-environment";

let env: UsersTestEnvironment;
let app: ServiceApp;

beforeAll(async () => {
  env = await startUsersTestEnvironment("outage");
  const config = loadUsersConfig(env.env({ OUTBOX_POLL_MS: "300", DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: "4000" }));
  app = await buildApp(await connectDependencies(config, createLogger({ service: "users", level: "silent" })));
}, BOOT_TIMEOUT_MS);
afterAll(async () => {
  await app?.close();
  await env?.destroy();
});

describe("broker outage", () => {
  it("keeps registering while RabbitMQ is down, reports it unready, and delivers the event once it is back", async () => {
    await env.rabbit.stop();
    await waitFor("readiness to name rabbitmq", async () => {
      const ready = await app.inject("/health/ready");
      return ready.statusCode === 503 && ready.json().error.details.failed.includes("rabbitmq");
    });

    const registered = await app.inject({ method: "POST", url: "/auth/register", payload: { email: "during-outage@example.com", password: "a sturdy passphrase 42" } });
    expect(registered.statusCode).toBe(201);
    const userId = registered.json().id;
    expect(env.sql("select count(*) from outbox where type = 'user.registered'")).toBe("1");

    await env.rabbit.start();
    await env.observeEvents();
    const event = await env.waitForEvent("user.registered", (payload) => payload.userId === userId);
    expect(event.payload.email).toBe("during-outage@example.com");
    await waitFor("outbox emptied", async () => env.sql("select count(*) from outbox") === "0");
    await waitFor("ready again", async () => (await app.inject("/health/ready")).statusCode === 200);
  }, 180_000);
});
