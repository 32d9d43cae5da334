import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Type } from "@fastify/type-provider-typebox";
import { createLogger } from "../src/logger";
import { startServer, type RunningServer } from "../src/serve";
import { createService, type ServiceApp } from "../src/service";

let app: ServiceApp;
let running: RunningServer;

beforeAll(async () => {
  app = await createService({ name: "metered", logger: createLogger({ service: "metered", level: "silent" }) });
  app.get("/users/:id", { schema: { params: Type.Object({ id: Type.String({ pattern: "^[a-z0-9]+$" }) }) } }, async (request) => ({ id: request.params.id }));
  running = await startServer(app, { port: 0, host: "127.0.0.1", metricsPort: 0, probePeriodMs: 0 });
});
afterAll(() => running.shutdown("test over"));

describe("metrics", () => {
  it("labels request durations by route template and status class on the separate metrics port", async () => {
    for (const id of ["alice", "bob", "carol"]) expect((await fetch(`${running.url}/users/${id}`)).status).toBe(200);
    expect((await fetch(`${running.url}/users/NOT-VALID`)).status).toBe(400);
    expect((await fetch(`${running.url}/unknown/path/42`)).status).toBe(404);

    const text = await (await fetch(running.metricsUrl!)).text();
    expect(text).toContain('http_request_duration_seconds_count{service="metered",method="GET",route="/users/:id",status_class="2xx"} 3');
    expect(text).toContain('http_request_duration_seconds_count{service="metered",method="GET",route="/users/:id",status_class="4xx"} 1');
    expect(text).toContain('http_request_duration_seconds_count{service="metered",method="GET",route="unmatched",status_class="4xx"} 1');
    // Raw URLs would make one series per user: none may appear.
    expect(text).not.toMatch(/route="\/users\/(alice|bob|carol)"/);
    expect(text).toContain("process_cpu_user_seconds_total");
  });

  it("does not serve /metrics on the service port", async () => {
    expect((await fetch(`${running.url}/metrics`)).status).toBe(404);
  });
});
