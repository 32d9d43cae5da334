// Every pinned image against the server the harness actually starts: each server is asked for
// its own version (SHOW server_version, INFO server, the node's status, SHOW VERSION, --version),
// and the test fails, naming both, when it and the image pin drift apart.
import { Client } from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { loadStackConfig } from "../../components/config/load-config";
import { parseImageReference } from "../../components/config/image-reference";
import { comparableVersion, SERVER_VERSIONS, versionDrift, type ServerName, type ServerVersion } from "../../components/config/server-versions";
import { readStackConfig } from "../../scripts/mock-engine";
import { startPgBouncer } from "../../scripts/local-servers/pgbouncer-server";
import { startPostgres } from "../../scripts/local-servers/postgres-server";
import { startRabbit } from "../../scripts/local-servers/rabbitmq-node";
import { startRedis } from "../../scripts/local-servers/redis-server";
import { runAs, runAsOrThrow } from "../../scripts/local-servers/server-process";
import { testServer } from "../../scripts/local-servers/test-roots";

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups) await cleanup();
});

/** The first dotted version in a server's answer ("17.12 (Debian 17.12-0+deb13u1)" → "17.12"). */
function versionIn(text: string): string {
  const found = /(\d+\.\d+(?:\.\d+)?)/.exec(text);
  if (!found) throw new Error(`no version in: ${text.slice(0, 300)}`);
  return found[1];
}

/** A program that is not a long-running server here: its own --version. */
const fromBinary = (name: ServerName) => async (): Promise<string> => {
  const server = testServer(name);
  // Some print it to stderr (the Prometheus exporters' common version flag).
  const result = runAs(server.user, server.binary, ["--version"]);
  if (result.status !== 0) throw new Error(`${server.binary} --version exited ${result.status}: ${result.stderr}`);
  return versionIn(`${result.stdout} ${result.stderr}`);
};

/** How to ask each server which version it is; a server added to the record without one does not compile. */
const startedVersion: Record<ServerName, () => Promise<string>> = {
  async postgres() {
    const server = await startPostgres();
    cleanups.push(() => server.destroy());
    return versionIn(server.psql("SHOW server_version"));
  },
  async pgbouncer() {
    const password = `pw${Date.now()}`;
    const server = await startPgBouncer({
      ini: "[databases]\n[pgbouncer]\nauth_type = plain\nadmin_users = admin\n",
      userlist: `"admin" "${password}"\n`,
    });
    cleanups.push(() => server.destroy());
    const client = new Client({ host: server.host, port: server.port, user: "admin", password, database: "pgbouncer" });
    await client.connect();
    try {
      const result = await client.query("SHOW VERSION");
      return versionIn(String(Object.values(result.rows[0] as Record<string, unknown>)[0]));
    } finally {
      await client.end();
    }
  },
  async redis() {
    const server = await startRedis("");
    cleanups.push(() => server.destroy());
    const redis = testServer("redis");
    const info = runAsOrThrow(redis.user, redis.bin("redis-cli"), ["-h", server.host, "-p", String(server.port), "INFO", "server"]);
    return versionIn(/redis_version:(\S+)/.exec(info)?.[1] ?? info);
  },
  async rabbitmq() {
    const node = await startRabbit({ plugins: [] });
    cleanups.push(() => node.destroy());
    const status = JSON.parse(node.ctl(["status", "--formatter", "json"])) as { rabbitmq_version?: string };
    return versionIn(String(status.rabbitmq_version));
  },
  prometheus: fromBinary("prometheus"),
  alertmanager: fromBinary("alertmanager"),
  nodeExporter: fromBinary("nodeExporter"),
  postgresExporter: fromBinary("postgresExporter"),
  pgbouncerExporter: fromBinary("pgbouncerExporter"),
  redisExporter: fromBinary("redisExporter"),
};

describe("versionDrift", () => {
  it("names the image, the package and both versions when they differ, and nothing when they agree", () => {
    expect(versionDrift("rabbitmq", "4.0.5")).toBe(
      `rabbitmq: the stack pins ${SERVER_VERSIONS.rabbitmq.image} (4.3) but the tests run rabbitmq-server 4.0.5 from forky (4.0); move the pin or the suite in components/config/server-versions.ts`,
    );
    expect(versionDrift("rabbitmq", "4.3.6")).toBeUndefined();
    // PostgreSQL compares majors: its minor releases are fixes only.
    expect(versionDrift("postgres", "17.12")).toBeUndefined();
    expect(versionDrift("postgres", "18.1")).toMatch(/postgres: the stack pins postgres:17\.\d+-trixie \(17\) but the tests run postgresql-17 18\.1/);
  });
});

describe("every pinned image runs the version the tests start", () => {
  it.each(Object.keys(SERVER_VERSIONS) as ServerName[])("%s", async (name) => {
    const started = await startedVersion[name]();
    expect(versionDrift(name, started), `started ${started}`).toBeUndefined();
    // The record's note of the tested package version stays true at the same granularity.
    const record: ServerVersion = SERVER_VERSIONS[name];
    const recorded = record.debianVersion.replace(/^\d+:/, "");
    expect(comparableVersion(started, record.compare), `${name}: server-versions.ts records ${record.debianVersion}`).toBe(comparableVersion(recorded, record.compare));
  }, 180_000);
});

describe("the stacks deploy the recorded pins", () => {
  /** Every string in a loaded config, with its key path. */
  function strings(value: unknown, path: string): { path: string; value: string }[] {
    if (typeof value === "string") return [{ path, value }];
    if (Array.isArray(value)) return value.flatMap((item, i) => strings(item, `${path}[${i}]`));
    if (typeof value === "object" && value !== null) return Object.entries(value).flatMap(([key, item]) => strings(item, path === "" ? key : `${path}.${key}`));
    return [];
  }
  const pinnedRepositories = new Map(Object.values(SERVER_VERSIONS).map((record) => [parseImageReference(record.image)?.repository, record.image]));

  // A default that names a pinned server's image must be that pin: a second, older tag beside the
  // record (as the monitoring defaults once were) deploys a version no test runs.
  it.each(["dev", "prod"])("%s: every image of a pinned server is the pin", (stack) => {
    const config = loadStackConfig(stack, readStackConfig(stack));
    const drift = strings(config, "")
      .map((entry) => ({ ...entry, parsed: parseImageReference(entry.value) }))
      // An image names a tag or a digest ("postgres" alone is a database kind, not an image).
      .filter((entry) => entry.parsed?.tag !== undefined || entry.parsed?.digest !== undefined)
      .map((entry) => ({ ...entry, repository: entry.parsed?.repository }))
      .filter((entry) => entry.repository !== undefined && pinnedRepositories.has(entry.repository) && entry.value !== pinnedRepositories.get(entry.repository))
      .map((entry) => `${entry.path}: ${entry.value}, but the tests run ${String(pinnedRepositories.get(entry.repository))}`);
    expect(drift).toEqual([]);
  });
});
