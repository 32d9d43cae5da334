// Redis with exactly the rendered TLS settings (renderRedisConf), on the real redis-server of the
// pinned version: the kit's client verifying against the CA gets in; plain text, a client that
// trusts another CA and a client expecting another host name do not.
import { randomBytes } from "node:crypto";
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { redisPasswordHash, renderRedisAcl } from "../../components/database/redis/redis-acl";
import { renderRedisConf } from "../../components/database/redis/redis-conf";
import { RedisServer, startRedis } from "../../scripts/local-servers/redis-server";
import { ownedTempDir } from "../../scripts/local-servers/server-process";
import { testPki } from "../../scripts/local-servers/shared-test-pki";
import { testServer } from "../../scripts/local-servers/test-roots";
import { checkRedis, closeRedis, createRedis } from "../../services/kit/src/redis";
import { plainExchange, tlsHandshake } from "./tls-probes";

const PASSWORD = randomBytes(20).toString("hex");

describe("Redis with the rendered TLS listener", () => {
  let server: RedisServer;
  let work: { path: string; remove: () => void };
  const pki = testPki();
  const url = () => `rediss://users@127.0.0.1:${server.port}/0`;
  const client = (tls: { ca: string; servername: string }) =>
    createRedis({ url: url(), password: PASSWORD, connectionName: "tls-test", tls, commandTimeoutMs: 10_000 });

  beforeAll(async () => {
    const user = testServer("redis").user;
    work = ownedTempDir("redis-tls", user);
    chmodSync(work.path, 0o755);
    const aclFilePath = join(work.path, "users.acl");
    writeFileSync(aclFilePath, renderRedisAcl([{ name: "users", role: "application", passwordSha256: redisPasswordHash(PASSWORD) }]));
    const tls = pki.filesFor(work.path, user);
    server = await startRedis(renderRedisConf({ memoryLimitMiB: 128, evictionPolicy: "noeviction", aclFilePath, dataDir: work.path, tls }));
  });
  afterAll(async () => {
    await server?.destroy();
    work?.remove();
  });

  it("the kit's client, verifying against the platform CA and the name it dials, authenticates and works", async () => {
    const redis = client({ ca: pki.caPem, servername: pki.serverName });
    try {
      await checkRedis(redis);
      await redis.set("tls:greeting", "hello");
      expect(await redis.get("tls:greeting")).toBe("hello");
      expect(await redis.call("ACL", "WHOAMI")).toBe("users");
    } finally {
      await closeRedis(redis);
    }
  });

  it("offers TLS 1.3 and 1.2 and refuses 1.1", async () => {
    expect(await tlsHandshake(server.port, { ca: pki.caPem, servername: pki.serverName })).toEqual({ ok: true, protocol: "TLSv1.3" });
    expect(await tlsHandshake(server.port, { ca: pki.caPem, servername: pki.serverName, maxVersion: "TLSv1.2" })).toEqual({ ok: true, protocol: "TLSv1.2" });
    // Node's own floor is 1.2; lowering it shows the refusal is the server's.
    const old = await tlsHandshake(server.port, { ca: pki.caPem, servername: pki.serverName, minVersion: "TLSv1", maxVersion: "TLSv1.1" as "TLSv1.2" });
    expect(old.ok).toBe(false);
  });

  it("refuses plain text: a RESP PING gets no PONG and the connection is closed", async () => {
    const { reply, closedByServer } = await plainExchange(server.port, "PING\r\n");
    expect(reply).not.toContain("PONG");
    expect(closedByServer).toBe(true);
  });

  it("a client trusting another CA refuses the server", async () => {
    const result = await tlsHandshake(server.port, { ca: pki.otherCaPem, servername: pki.serverName });
    // The server sends its chain up to its CA, which the client does not trust.
    expect(result.ok).toBe(false);
    expect(result.ok ? "" : result.code).toMatch(/^(SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE)$/);
    const redis = client({ ca: pki.otherCaPem, servername: pki.serverName });
    try {
      await expect(checkRedis(redis)).rejects.toThrow();
    } finally {
      redis.disconnect();
    }
  });

  it("verification fails for a host name the certificate does not carry", async () => {
    const result = await tlsHandshake(server.port, { ca: pki.caPem, servername: "redis.elsewhere" });
    expect(result).toEqual({ ok: false, code: "ERR_TLS_CERT_ALTNAME_INVALID" });
    const redis = client({ ca: pki.caPem, servername: "redis.elsewhere" });
    try {
      await expect(checkRedis(redis)).rejects.toThrow();
    } finally {
      redis.disconnect();
    }
  });
});
