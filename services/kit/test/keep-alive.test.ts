import { Agent, request as httpsRequest } from "node:https";
import { describe, expect, it } from "vitest";
import { createTestCa } from "../../../scripts/local-servers/test-pki";
import { createLogger } from "../src/logger";
import { KEEP_ALIVE_TIMEOUT_MS, startServer, type ServeOptions } from "../src/serve";
import { createService } from "../src/service";

// The gateway pools connections to the services and closes idle ones after its own timeout; a
// service must hold them longer (Node's default is 5 s), on the plain listener and the TLS one.
async function serving(tls?: ServeOptions["tls"]) {
  const app = await createService({ name: "pooled", logger: createLogger({ service: "pooled", level: "silent" }) });
  app.get("/hello", async () => ({ hello: "again" }));
  return startServer(app, { port: 0, host: "127.0.0.1", probePeriodMs: 0, ...(tls ? { tls } : {}) });
}

describe("idle keep-alive connections", () => {
  it("are held for KEEP_ALIVE_TIMEOUT_MS on the plain listener, as its answers tell a pooling client", async () => {
    const running = await serving();
    try {
      const response = await fetch(`${running.url}/hello`);
      await response.text();
      expect(response.headers.get("keep-alive")).toBe(`timeout=${KEEP_ALIVE_TIMEOUT_MS / 1000}`);
      expect(KEEP_ALIVE_TIMEOUT_MS).toBeGreaterThan(5_000);
    } finally {
      await running.shutdown("test over");
    }
  });

  it("are held as long on the TLS listener", async () => {
    const ca = createTestCa("keep-alive test CA");
    const leaf = ca.leaf("pooled", ["pooled"]);
    const running = await serving({ cert: leaf.certPem, key: leaf.keyPem });
    const agent = new Agent({ keepAlive: true, ca: ca.caPem, servername: "pooled" });
    try {
      const keepAlive = await new Promise<string | undefined>((resolve, reject) => {
        const request = httpsRequest(`${running.url}/hello`, { agent }, (response) => {
          response.resume();
          response.on("end", () => resolve(String(response.headers["keep-alive"])));
        });
        request.on("error", reject);
        request.end();
      });
      expect(keepAlive).toBe(`timeout=${KEEP_ALIVE_TIMEOUT_MS / 1000}`);
    } finally {
      agent.destroy();
      await running.shutdown("test over");
      ca.remove();
    }
  });
});
