import { afterEach, describe, expect, it } from "vitest";
import { createDiscovery, createJwksVerifier, discoveredUrl, type Discovery } from "@fundament/kit";
import { startFakeConsul, type FakeConsul } from "../../../kit/test/fake-consul";
import { startJwksServer, type JwksServer } from "../integration/jwks-server";

/**
 * The config service finds the users service's JWKS through discovery, wired as
 * src/dependencies.ts wires it: JWKS_URL names the path, Consul's passing instances of
 * JWKS_SERVICE the host and port; without Consul, JWKS_URL's own DNS name.
 */
let consul: FakeConsul | undefined;
let jwks: JwksServer | undefined;
let discovery: Discovery | undefined;
afterEach(async () => {
  discovery?.close();
  await consul?.close();
  await jwks?.close();
});

const options = { issuer: "https://users.test", audience: "fundament" };
const TEMPLATE = "http://users:8080/.well-known/jwks.json";

describe("JWKS through discovery", () => {
  it("verifies tokens against the keys of the passing users instance Consul names, and stops asking one that turned critical", async () => {
    jwks = await startJwksServer(options);
    const served = new URL(jwks.url);
    consul = await startFakeConsul({ tokens: { "config-token": { write: ["config"], read: ["users"] } } });
    consul.add({ ID: "users-a", Name: "users", Address: served.hostname, Port: Number(served.port) }, "passing");
    // An instance that fails its check must never be asked (nothing listens there).
    consul.add({ ID: "users-b", Name: "users", Address: "127.0.0.1", Port: 1 }, "critical");
    discovery = createDiscovery({ consul: { url: consul.url, token: "config-token" }, fallback: { users: { host: "users", port: 8080 } } });
    let turn = 0;
    const verifier = await createJwksVerifier({ jwksUrl: TEMPLATE, ...options, resolveJwksUrl: async () => discoveredUrl(TEMPLATE, await discovery!.discover("users"), turn++) });
    for (let i = 0; i < 3; i++) {
      await expect(verifier.verify(await jwks.sign({ sub: "u1", roles: ["config:read"] }))).resolves.toEqual({ subject: "u1", roles: ["config:read"] });
    }
    expect(jwks.fetches).toBe(1);
  });

  it("refuses a token of a key the users service retired once its cached key set is older than cacheMaxAgeMs", async () => {
    jwks = await startJwksServer(options);
    const maxAgeMs = 300;
    const verifier = await createJwksVerifier({ jwksUrl: jwks.url, ...options, cacheMaxAgeMs: maxAgeMs });
    const leaked = await jwks.sign({ sub: "u1", roles: [] });
    await expect(verifier.verify(leaked)).resolves.toMatchObject({ subject: "u1" });
    const next = await jwks.rotate();
    jwks.retire("test-key-1");
    // Within the max age the cached set still holds the old key; past it the set is fetched again.
    await new Promise((resolve) => setTimeout(resolve, maxAgeMs + 50));
    await expect(verifier.verify(leaked)).rejects.toThrow(/no applicable key found|matching key/i);
    await expect(verifier.verify(await jwks.sign({ sub: "u2", roles: [] }, { key: next }))).resolves.toMatchObject({ subject: "u2" });
  });

  it("with a watch against a JWKS server that sends no ETag, says so, ends the watch and keeps the maximum age as the bound", async () => {
    jwks = await startJwksServer(options);
    const problems: string[] = [];
    const verifier = await createJwksVerifier({ jwksUrl: jwks.url, ...options, cacheMaxAgeMs: 300, watchSeconds: 5, onWatchProblem: (message) => problems.push(message) });
    try {
      const started = Date.now();
      while (verifier.watching) {
        expect(Date.now() - started, "the watch kept polling a server that holds no watch").toBeLessThan(5000);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(problems).toEqual([`${jwks.url} sends no ETag, so it holds no watch: a retired key stops verifying here only at the key set's maximum age`]);
      const leaked = await jwks.sign({ sub: "u1", roles: [] });
      await expect(verifier.verify(leaked)).resolves.toMatchObject({ subject: "u1" });
      jwks.retire("test-key-1");
      await new Promise((resolve) => setTimeout(resolve, 350));
      await expect(verifier.verify(leaked)).rejects.toThrow(/no applicable key found|matching key/i);
    } finally {
      await verifier.close();
    }
  });

  it("uses JWKS_URL's DNS name when Consul is not configured", async () => {
    discovery = createDiscovery({ fallback: { users: { host: "users", port: 8080 } } });
    expect(discoveredUrl(TEMPLATE, await discovery.discover("users"), 0)).toBe(TEMPLATE);
  });

  it("refuses when no instance passes", () => {
    expect(() => discoveredUrl(TEMPLATE, [], 0)).toThrow(`no passing instance for ${TEMPLATE}`);
  });
});
