// The rendered redis.conf and ACL file, loaded by the real redis-server of the pinned version
// (scripts/local-servers), with TLS on its only port exactly as rendered: every client here
// verifies the server against the test CA, as the platform's clients do against the platform CA.
import { spawn } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Redis from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REDIS_EXPORTER_USER, REDIS_HEALTH_USER, redisPasswordHash, renderRedisAcl } from "../../components/database/redis/redis-acl";
import { EvictionPolicy, renderRedisConf } from "../../components/database/redis/redis-conf";
import { redisHealthCommand } from "../../components/database/redis/redis-workloads";
import { RedisServer, startRedis } from "../../scripts/local-servers/redis-server";
import { runAs } from "../../scripts/local-servers/server-process";
import { testPki } from "../../scripts/local-servers/shared-test-pki";
import { testServer } from "../../scripts/local-servers/test-roots";

const APP_PASSWORD = "AppPassword0123456789abcdefghijklmnopqrst";
const HEALTH_PASSWORD = "HealthPassword0123456789abcdefghijklmnopq";
const EXPORTER_PASSWORD = "ExporterPassword0123456789abcdefghijklmn";

/** A directory the redis service user can read (mkdtemp makes 0700 dirs owned by whoever runs the tests). */
function readableDir(): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), "fundament-redis-acl-"));
  chmodSync(path, 0o755);
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

async function startRendered(
  memoryLimitMiB: number,
  evictionPolicy: EvictionPolicy,
  extraConf = "",
): Promise<{ server: RedisServer; caFile: string; cleanup: () => Promise<void> }> {
  const dir = readableDir();
  const aclPath = join(dir.path, "users.acl");
  writeFileSync(
    aclPath,
    renderRedisAcl([
      { name: "users", role: "application", passwordSha256: redisPasswordHash(APP_PASSWORD) },
      { name: REDIS_HEALTH_USER, role: "healthcheck", passwordSha256: redisPasswordHash(HEALTH_PASSWORD) },
      { name: REDIS_EXPORTER_USER, role: "exporter", passwordSha256: redisPasswordHash(EXPORTER_PASSWORD) },
    ]),
    { mode: 0o644 },
  );
  // redis-server changes into `dir` while parsing, so it must exist here; the harness's own `dir` line then wins.
  const tls = testPki().filesFor(dir.path, testServer("redis").user);
  const server = await startRedis(renderRedisConf({ memoryLimitMiB, evictionPolicy, aclFilePath: aclPath, dataDir: dir.path, tls }) + extraConf);
  return {
    server,
    caFile: tls.caFile,
    cleanup: async () => {
      await server.destroy();
      dir.remove();
    },
  };
}

/** How every client here reaches the TLS-only port: verifying the server against the CA and its name. */
const clientTls = () => ({ ca: testPki().caPem, servername: testPki().serverName });

function appClient(server: RedisServer): Redis {
  return new Redis({ host: server.host, port: server.port, tls: clientTls(), username: "users", password: APP_PASSWORD, maxRetriesPerRequest: 0, retryStrategy: () => null });
}

describe("redis-server with the rendered redis.conf and ACL file", () => {
  let server: RedisServer;
  let caFile: string;
  let cleanup: () => Promise<void>;
  const clients: Redis[] = [];
  const track = (client: Redis) => {
    clients.push(client);
    return client;
  };

  beforeAll(async () => {
    ({ server, caFile, cleanup } = await startRendered(256, "noeviction"));
  });
  afterAll(async () => {
    clients.forEach((client) => client.disconnect());
    await cleanup?.();
  });

  it("the application user authenticates, reads and writes", async () => {
    const app = track(appClient(server));
    await app.set("greeting", "hello");
    expect(await app.get("greeting")).toBe("hello");
    expect(await app.call("ACL", "WHOAMI")).toBe("users");
  });

  it.each([
    ["FLUSHALL", []],
    ["FLUSHDB", []],
    ["CONFIG", ["SET", "maxmemory", "0"]],
    ["CONFIG", ["GET", "maxmemory"]],
    ["SHUTDOWN", ["NOSAVE"]],
  ])("the application user is refused %s %s and the data stays", async (command, commandArgs) => {
    const app = track(appClient(server));
    await app.set("survivor", "still here");
    await expect(app.call(command, ...commandArgs)).rejects.toThrow(/NOPERM/);
    expect(await app.get("survivor")).toBe("still here");
  });

  it("DEBUG is refused to everyone by the server setting", async () => {
    const app = track(appClient(server));
    await expect(app.call("DEBUG", "SLEEP", "0")).rejects.toThrow(/DEBUG command not allowed/);
  });

  it("the default user can do nothing: no command without AUTH, and no password opens it", async () => {
    const anonymous = track(new Redis({ host: server.host, port: server.port, tls: clientTls(), enableReadyCheck: false, maxRetriesPerRequest: 0, retryStrategy: () => null }));
    await expect(anonymous.get("greeting")).rejects.toThrow(/NOAUTH/);
    await expect(anonymous.ping()).rejects.toThrow(/NOAUTH/);
    await expect(anonymous.auth("")).rejects.toThrow(/WRONGPASS/);
    await expect(anonymous.auth("default", APP_PASSWORD)).rejects.toThrow(/WRONGPASS/);
    await expect(anonymous.auth("default", "default")).rejects.toThrow(/WRONGPASS/);
  });

  it("the healthcheck command passes with the password file and fails without the right password", () => {
    const dir = readableDir();
    try {
      const good = join(dir.path, "good");
      const bad = join(dir.path, "bad");
      writeFileSync(good, HEALTH_PASSWORD);
      writeFileSync(bad, "not-the-password");
      const probe = (file: string) => {
        // Run where the image runs it: beside the server, with the same version's redis-cli.
        const [cmd, ...rest] = redisHealthCommand(file, caFile, server.port);
        return runAs(server.user, cmd, rest, { timeoutMs: 30_000 });
      };
      const ok = probe(good);
      expect(ok.status, ok.stderr).toBe(0);
      expect(probe(bad).status).not.toBe(0);
      expect(probe(join(dir.path, "missing")).status).not.toBe(0);
      // The password reaches redis-cli through the environment of the probe's shell, never its arguments.
      expect(redisHealthCommand(good, "/ca.crt").join(" ")).not.toContain(HEALTH_PASSWORD);
    } finally {
      dir.remove();
    }
  });

  it("the exporter user can run what redis_exporter issues on a scrape, and cannot write or reconfigure", async () => {
    const exporter = track(new Redis({ host: server.host, port: server.port, tls: clientTls(), username: REDIS_EXPORTER_USER, password: EXPORTER_PASSWORD, enableReadyCheck: false, maxRetriesPerRequest: 0, retryStrategy: () => null }));
    await exporter.call("CLIENT", "SETNAME", "redis_exporter");
    expect(await exporter.info("all")).toMatch(/used_memory:/);
    expect(await exporter.call("CONFIG", "GET", "maxmemory")).toEqual(["maxmemory", String(128 * 1024 * 1024)]);
    await exporter.call("SLOWLOG", "GET", "10");
    await exporter.call("LATENCY", "LATEST");
    await exporter.select(0);
    await exporter.scan(0, "COUNT", 10);
    await expect(exporter.set("greeting", "overwritten")).rejects.toThrow(/NOPERM/);
    await expect(exporter.call("CONFIG", "SET", "maxmemory", "0")).rejects.toThrow(/NOPERM/);
  });

  it("the healthcheck user can ping and nothing else", async () => {
    const health = track(new Redis({ host: server.host, port: server.port, tls: clientTls(), username: REDIS_HEALTH_USER, password: HEALTH_PASSWORD, enableReadyCheck: false, maxRetriesPerRequest: 0, retryStrategy: () => null }));
    expect(await health.ping()).toBe("PONG");
    await expect(health.get("greeting")).rejects.toThrow(/NOPERM/);
  });
});

describe("with DEBUG enabled on the server, the ACL alone still refuses it", () => {
  let server: RedisServer;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    ({ server, cleanup } = await startRendered(256, "noeviction", "\n# test only: take the server-wide refusal away\nenable-debug-command yes\n"));
  });
  afterAll(async () => cleanup?.());

  it("the application user gets NOPERM for DEBUG", async () => {
    const app = appClient(server);
    try {
      await expect(app.call("DEBUG", "SLEEP", "0")).rejects.toThrow(/NOPERM/);
    } finally {
      app.disconnect();
    }
  });
});

describe("durability: appendfsync everysec survives kill -9", () => {
  let server: RedisServer;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    ({ server, cleanup } = await startRendered(256, "noeviction"));
  });
  afterAll(async () => cleanup?.());

  it("every key acknowledged more than 1 s before the kill is there after a restart", async () => {
    const writer = appClient(server);
    writer.on("error", () => undefined);
    const acknowledged: { key: string; at: number }[] = [];
    let writing = true;
    const loop = (async () => {
      for (let i = 0; writing; i++) {
        try {
          await writer.set(`durable:${i}`, `value-${i}`);
        } catch {
          return;
        }
        acknowledged.push({ key: `durable:${i}`, at: Date.now() });
      }
    })();
    // Keep writing across several fsync periods, so the kill lands mid-stream.
    const started = Date.now();
    while (acknowledged.length < 2000 || Date.now() - started < 3000) await new Promise((r) => setTimeout(r, 50));
    const killedAt = Date.now();
    await server.kill();
    writing = false;
    await loop;
    writer.disconnect();

    await server.start();
    const reader = appClient(server);
    try {
      const mustSurvive = acknowledged.filter((entry) => entry.at < killedAt - 1000).map((entry) => entry.key);
      expect(mustSurvive.length).toBeGreaterThan(0);
      const missing: string[] = [];
      for (let i = 0; i < mustSurvive.length; i += 1000) {
        const chunk = mustSurvive.slice(i, i + 1000);
        const values = await reader.mget(...chunk);
        values.forEach((value, j) => {
          if (value !== `value-${chunk[j].slice("durable:".length)}`) missing.push(chunk[j]);
        });
      }
      expect(missing).toEqual([]);
    } finally {
      reader.disconnect();
    }
  });
});

/**
 * How many times redis-server fsyncs its append-only file while a client writes for `seconds`:
 * strace follows every thread (the fsync runs on a background thread) and -y names each call's
 * file, so a snapshot's fsync is not mistaken for the AOF's. The process id comes from INFO.
 */
async function aofFsyncsWhileWriting(server: RedisServer, seconds: number): Promise<number> {
  const client = appClient(server);
  const dir = readableDir();
  try {
    const pid = /process_id:(\d+)/.exec(await client.info("server"))?.[1];
    expect(pid, "INFO server names the process").toBeDefined();
    const log = join(dir.path, "strace.log");
    const strace = spawn("strace", ["-f", "-y", "-e", "trace=fdatasync,fsync", "-o", log, "-p", String(pid)], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    await new Promise<void>((resolve, reject) => {
      strace.stderr.on("data", (chunk: Buffer) => {
        stderr += chunk.toString();
        if (/attached/.test(stderr)) resolve();
      });
      strace.once("exit", (code) => reject(new Error(`strace exited ${code} before attaching: ${stderr}`)));
    });
    const until = Date.now() + seconds * 1000;
    for (let i = 0; Date.now() < until; i++) await client.set(`fsync-probe:${i}`, "x".repeat(100));
    const exited = new Promise((resolve) => strace.once("exit", resolve));
    strace.kill("SIGINT");
    await exited;
    return readFileSync(log, "utf8")
      .split("\n")
      .filter((line) => /\b(fdatasync|fsync)\(\d+<[^>]*appendonly/.test(line)).length;
  } finally {
    client.disconnect();
    dir.remove();
  }
}

describe("durability: the append-only file is fsynced about once a second while writes arrive", () => {
  /** At least two fsyncs of the AOF in 4 s of writes: what everysec promises, with room for a slow machine. */
  const fsyncsLikeEverysec = (count: number): boolean => count >= 2;
  const check = async (extraConf: string): Promise<number> => {
    const { server, cleanup } = await startRendered(256, "noeviction", extraConf);
    try {
      return await aofFsyncsWhileWriting(server, 4);
    } finally {
      await cleanup();
    }
  };

  it("the rendered file (appendfsync everysec) fsyncs the AOF at least twice in 4 s of writes", async () => {
    expect(renderRedisConf({ memoryLimitMiB: 256, evictionPolicy: "noeviction", aclFilePath: "/a", dataDir: "/d", tls: { caFile: "/c", certFile: "/t", keyFile: "/k" } })).toMatch(/^appendfsync everysec$/m);
    const count = await check("");
    expect(fsyncsLikeEverysec(count), `${count} fsyncs of the AOF`).toBe(true);
  });

  it("the same check fails for a file that says appendfsync no: it tells the two apart", async () => {
    // Appended after the rendered line, so it wins: the one setting this test is about.
    const count = await check("\nappendfsync no\n");
    expect(fsyncsLikeEverysec(count), `${count} fsyncs of the AOF`).toBe(false);
  });
});

/** Writes ~1 KiB values in pipelined batches until `total` keys were sent; returns how many writes failed and why. */
async function fill(client: Redis, total: number): Promise<{ failures: number; firstError?: string }> {
  const value = "x".repeat(1024);
  let failures = 0;
  let firstError: string | undefined;
  for (let i = 0; i < total; i += 500) {
    const pipeline = client.pipeline();
    for (let j = i; j < Math.min(total, i + 500); j++) pipeline.set(`fill:${j}`, value);
    const results = (await pipeline.exec()) ?? [];
    for (const [error] of results) {
      if (error) {
        failures++;
        firstError ??= error.message;
      }
    }
  }
  return { failures, firstError };
}

describe.each([
  ["allkeys-lru", true],
  ["noeviction", false],
] as const)("maxmemory from a 128 MiB limit with %s", (policy, evicts) => {
  let server: RedisServer;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    ({ server, cleanup } = await startRendered(128, policy));
  });
  afterAll(async () => cleanup?.());

  it(evicts ? "writing twice the limit evicts old keys and never errors" : "writing past the limit is refused with OOM", async () => {
    const client = appClient(server);
    try {
      // 64 MiB maxmemory; 128 MiB of values is twice what fits.
      const total = 128 * 1024;
      const { failures, firstError } = await fill(client, total);
      const keys = await client.dbsize();
      const info = await client.info("memory");
      const used = Number(/used_memory:(\d+)/.exec(info)?.[1]);
      const limit = Number(/maxmemory:(\d+)/.exec(info)?.[1]);
      expect(limit).toBe(64 * 1024 * 1024);
      expect(keys).toBeLessThan(total);
      if (evicts) {
        expect(failures).toBe(0);
        expect(Number(/evicted_keys:(\d+)/.exec(await client.info("stats"))?.[1])).toBeGreaterThan(0);
        // Eviction runs as writes arrive, so used_memory can sit a little above maxmemory while a
        // pipeline's buffers are counted (1.051 x seen once on a busy CI run); without eviction it
        // would pass twice the limit.
        expect(used).toBeLessThanOrEqual(limit * 1.1);
      } else {
        expect(failures).toBeGreaterThan(0);
        expect(firstError).toMatch(/OOM command not allowed when used memory > 'maxmemory'/);
        expect(await client.exists("fill:0")).toBe(1);
      }
    } finally {
      client.disconnect();
    }
  });
});
