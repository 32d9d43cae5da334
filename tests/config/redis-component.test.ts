/*
 * The Redis component through Pulumi's mock engine, against a runtime that records the Workloads
 * it is handed (the component never talks to Docker or Kubernetes). The files it hands over are
 * then loaded by a real redis-server, and the connection it outputs is used to log in: what the
 * component would deploy is what is tested.
 */
import { createHash } from "node:crypto";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import Redis from "ioredis";
import { beforeAll, describe, expect, it } from "vitest";
import { Redis as RedisComponent, RedisArgs, RedisConnection } from "../../components/database/redis/redis";
import { REDIS_BACKUP_USER } from "../../components/database/redis/redis-acl";
import { RedisBackup } from "../../components/database/backups/redis-backup";
import {
  REDIS_ACL_PATH,
  REDIS_CONF_PATH,
  REDIS_EXPORTER_CA_PATH,
  REDIS_HEALTH_PASSWORD_PATH,
  REDIS_TLS_PATHS,
  redisHealthCommand,
} from "../../components/database/redis/redis-workloads";
import { PlatformPki } from "../../components/pki";
import { Runtime, Workload } from "../../components/runtime/workload";
import { startRedis } from "../../scripts/local-servers/redis-server";
import { runAs } from "../../scripts/local-servers/server-process";
import { testPki } from "../../scripts/local-servers/shared-test-pki";
import { testServer } from "../../scripts/local-servers/test-roots";
import { ComponentMocks, mockComponentEngine } from "./component-mocks";
import { RecordingRuntime, settled } from "./recording-runtime";

let registered: ComponentMocks["registered"] = [];
let generatedSecrets = new Set<string>();

beforeAll(async () => {
  ({ registered, generatedSecrets } = await mockComponentEngine());
});



let pki: PlatformPki | undefined;

const args = (runtime: Runtime): RedisArgs => ({
  pki: (pki ??= new PlatformPki("pki", { naming: { target: "docker" }, settings: { caValidityHours: 87_600, validityHours: 8_760, earlyRenewalHours: 720 } })),
  runtime,
  image: "redis:7.2.7",
  exporterImage: "oliver006/redis_exporter:v1.67.0-alpine",
  resources: { cpu: 0.5, memoryMiB: 256 },
  storageGiB: 2,
  evictionPolicy: "allkeys-lru",
  services: ["users", "config"],
});

async function fileContent(workload: Workload, path: string): Promise<string> {
  const file = workload.files?.find((f) => f.path === path);
  if (!file) throw new Error(`${workload.name} has no file ${path}`);
  return settled(file.content);
}

describe("Redis component", () => {
  const runtime = new RecordingRuntime("docker", (name) => `${name}.backend.internal`);
  let component: RedisComponent;

  beforeAll(() => {
    component = new RedisComponent("redis", args(runtime));
  });

  it("deploys Redis in the backend zone only and its exporter in backend + monitoring", () => {
    const [server, exporter] = runtime.deployed;
    expect(server.name).toBe("redis");
    expect(server.zones).toEqual(["backend"]);
    expect(server.storage).toEqual([{ name: "data", path: "/data", sizeGiB: 2 }]);
    expect(exporter.name).toBe("redis-exporter");
    expect(exporter.zones).toEqual(["backend", "monitoring"]);
    expect(exporter.metrics).toEqual({ port: 9121, path: "/metrics" });
    expect(exporter.dependsOn).toContain(component.workload);
  });

  it("outputs one secret connection per service, each its own user", async () => {
    expect(Object.keys(component.connections).sort()).toEqual(["config", "users"]);
    for (const [service, output] of Object.entries(component.connections)) {
      expect(await pulumi.isSecret(output)).toBe(true);
      const connection: RedisConnection = await settled(output);
      expect(connection).toMatchObject({ host: "redis.backend.internal", port: 6379, user: service, tls: true });
      expect(connection.caCertPem).toBe(await settled(pki!.caCertPem));
      expect(generatedSecrets.has(connection.password)).toBe(true);
    }
    const passwords = await Promise.all(Object.values(component.connections).map(async (c) => (await settled(c)).password));
    expect(new Set(passwords).size).toBe(passwords.length);
  });

  it("delivers the server its platform leaf: CA and certificate as plain files, the key as a secret file only redis reads", async () => {
    const server = runtime.deployed[0];
    const file = (path: string) => server.files?.find((f) => f.path === path);
    expect(file(REDIS_TLS_PATHS.key)).toMatchObject({ secret: true, mode: 0o400 });
    expect(await pulumi.isSecret(pulumi.output(file(REDIS_TLS_PATHS.key)?.content))).toBe(true);
    expect(await settled(file(REDIS_TLS_PATHS.key)?.content ?? "")).toMatch(/BEGIN .*PRIVATE KEY/);
    expect(file(REDIS_TLS_PATHS.cert)?.secret).toBeFalsy();
    expect(await settled(file(REDIS_TLS_PATHS.ca)?.content ?? "")).toBe(await settled(pki!.caCertPem));
    // Exactly the names the other containers dial (the network alias) and the probe dials inside.
    expect(pki!.leaves().find((leaf) => leaf.name === "redis")?.dnsNames).toEqual(["redis", "localhost"]);
    const conf = await fileContent(server, REDIS_CONF_PATH);
    expect(conf).toMatch(/^port 0$/m);
    expect(conf).toMatch(/^tls-port 6379$/m);
    expect(conf).toContain(`tls-key-file ${REDIS_TLS_PATHS.key}\n`);
  });

  it("puts generated passwords only in files marked secret, never in plain files or environment", async () => {
    expect(generatedSecrets.size).toBeGreaterThan(0);
    for (const workload of runtime.deployed) {
      for (const file of workload.files ?? []) {
        const content = await settled(file.content);
        const holdsSecret = [...generatedSecrets].some((secret) => content.includes(secret));
        if (holdsSecret) expect(file.secret, `${workload.name}:${file.path}`).toBe(true);
        if (file.secret) expect(file.mode, `${workload.name}:${file.path}`).toBe(0o400);
      }
      for (const [name, value] of Object.entries(workload.env ?? {})) {
        const text = await settled(value);
        for (const secret of generatedSecrets) expect(text, `${workload.name} env ${name}`).not.toContain(secret);
      }
    }
    const server = runtime.deployed[0];
    expect(server.files?.find((f) => f.path === REDIS_ACL_PATH)?.secret).toBeFalsy();
    expect(server.files?.find((f) => f.path === REDIS_CONF_PATH)?.secret).toBeFalsy();
  });

  it("the backup job gets the backup user's password as a secret file whose hash the ACL file holds, and nothing else of it", async () => {
    new RedisBackup("redis-backup", { runtime, image: "redis:7.2.7", redis: component, schedule: "17 3 * * *", retention: 7, volumeSizeGiB: 2 });
    const job = runtime.scheduled.find((j) => j.name === "redis-backup");
    expect(job?.zones).toEqual(["backend"]);
    expect(job?.storage).toEqual([{ name: "backups", path: "/data", sizeGiB: 2 }]);
    const passwordFile = job?.files?.find((f) => f.path.startsWith("/run/secrets/"));
    expect(passwordFile).toMatchObject({ secret: true, mode: 0o400 });
    expect(await pulumi.isSecret(pulumi.output(passwordFile?.content))).toBe(true);
    const password = await settled(passwordFile?.content ?? "");
    expect(generatedSecrets.has(password)).toBe(true);
    const acl = await fileContent(runtime.deployed[0], REDIS_ACL_PATH);
    const hash = createHash("sha256").update(password).digest("hex");
    expect(acl.split("\n").find((line) => line.startsWith(`user ${REDIS_BACKUP_USER} `))).toContain(`#${hash} `);
    for (const value of Object.values(job?.env ?? {})) expect(await settled(value)).not.toContain(password);
    const script = await settled(job?.files?.find((f) => f.path.endsWith(".sh"))?.content ?? "");
    const caPath = /--cacert '([^']+)'/.exec(script)?.[1];
    expect(caPath).toBeDefined();
    expect(await settled(job?.files?.find((f) => f.path === caPath)?.content ?? "")).toBe(await settled(pki!.caCertPem));
    expect(() => new RedisBackup("bad-backup", { runtime, image: "redis", redis: component, schedule: "daily", retention: 0, volumeSizeGiB: 0 })).toThrow(
      /bad-backup\.schedule: .*\nbad-backup\.image: .*\nbad-backup\.volumeSizeGiB: must be an integer of at least 1 \(got 0\)\nbad-backup\.retention: must be an integer from 1 to 1000 \(got 0\)/,
    );
  });

  it("the exporter gets its password as a JSON password file keyed by the Redis address", async () => {
    const exporter = runtime.deployed[1];
    expect(await settled(exporter.env?.REDIS_ADDR ?? "")).toBe("rediss://redis.backend.internal:6379");
    // rediss:// alone would verify against the system's CAs, which never signed the platform leaf.
    expect(exporter.env?.REDIS_EXPORTER_TLS_CA_CERT_FILE).toBe(REDIS_EXPORTER_CA_PATH);
    expect(await fileContent(exporter, REDIS_EXPORTER_CA_PATH)).toBe(await settled(pki!.caCertPem));
    expect(exporter.env?.REDIS_PASSWORD_FILE).toBe("/run/secrets/redis-exporter/passwords.json");
    const passwords = JSON.parse(await fileContent(exporter, "/run/secrets/redis-exporter/passwords.json")) as Record<string, string>;
    expect(Object.keys(passwords)).toContain("rediss://redis.backend.internal:6379");
    expect(generatedSecrets.has(passwords["rediss://redis.backend.internal:6379"])).toBe(true);
  });

  it("its files, loaded by a real redis-server, let each service in with its connection and refuse FLUSHALL", async () => {
    const server = runtime.deployed[0];
    const dir = mkdtempSync(join(tmpdir(), "fundament-redis-component-"));
    chmodSync(dir, 0o755);
    const aclPath = join(dir, "users.acl");
    writeFileSync(aclPath, await fileContent(server, REDIS_ACL_PATH), { mode: 0o644 });
    const healthPasswordPath = join(dir, "health-password");
    writeFileSync(healthPasswordPath, await fileContent(server, REDIS_HEALTH_PASSWORD_PATH));
    // Only the paths that exist inside the container are pointed at this machine's copies (the
    // mock engine's certificates are not real ones, so the test PKI's leaf stands in).
    const tls = testPki().filesFor(dir, testServer("redis").user);
    const conf = (await fileContent(server, REDIS_CONF_PATH))
      .replace(`aclfile ${REDIS_ACL_PATH}`, `aclfile ${aclPath}`)
      .replace("dir /data", `dir ${dir}`)
      .replace(REDIS_TLS_PATHS.ca, tls.caFile)
      .replace(REDIS_TLS_PATHS.cert, tls.certFile)
      .replace(REDIS_TLS_PATHS.key, tls.keyFile);
    const redis = await startRedis(conf);
    try {
      for (const output of Object.values(component.connections)) {
        const connection = await settled(output);
        const client = new Redis({ host: redis.host, port: redis.port, tls: { ca: testPki().caPem, servername: testPki().serverName }, username: connection.user, password: connection.password, maxRetriesPerRequest: 0, retryStrategy: () => null });
        try {
          expect(await client.call("ACL", "WHOAMI")).toBe(connection.user);
          await client.set(`${connection.user}:hello`, "world");
          await expect(client.flushall()).rejects.toThrow(/NOPERM/);
        } finally {
          client.disconnect();
        }
      }
      const [cmd, ...rest] = redisHealthCommand(healthPasswordPath, tls.caFile, redis.port);
      expect(runAs(redis.user, cmd, rest, { timeoutMs: 30_000 }).status).toBe(0);
    } finally {
      await redis.destroy();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("Redis component argument checks", () => {
  it("names every bad field in one error and registers nothing", () => {
    const before = registered.length;
    const runtime = new RecordingRuntime("docker", (name) => `${name}.backend.internal`);
    expect(
      () =>
        new RedisComponent("bad-redis", {
          ...args(runtime),
          image: "redis",
          resources: { cpu: 0, memoryMiB: 64 },
          evictionPolicy: "lru" as never,
          services: ["users", "Users", "default", "users"],
        }),
    ).toThrow(
      new RegExp(
        [
          'redis\\.image: must carry a pinned tag or digest, a bare name floats to "latest" \\(got "redis"\\)',
          "redis\\.resources\\.cpu: must be a number above 0 \\(got 0\\)",
          "redis\\.resources\\.memoryMiB: must be an integer of at least 128.*\\(got 64\\)",
          "redis\\.evictionPolicy: must be one of noeviction, allkeys-lru.*\\(got \"lru\"\\)",
          'redis\\.services\\[1\\]: must be a lower-case name.*\\(got "Users"\\)',
          'redis\\.services\\[2\\]: "default" is reserved',
          'redis\\.services\\[3\\]: "users" is listed twice',
        ].join(".*\\nfundament:database\\."),
      ),
    );
    expect(registered.length).toBe(before);
    expect(runtime.deployed).toEqual([]);
  });
});
