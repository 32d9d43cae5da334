// `npm run bench -- services`: autocannon (a separate process, so it does not share the
// servers' event loop) against three servers in this process, alternating rounds in one run:
//   (a) a bare Fastify hello-world: the ceiling of this machine;
//   (b) the config service's GET of an environment's current version (served from Redis);
//   (c) the users service's GET /me with a valid EdDSA access token (token verify + one row).
// All run with the kit's spine as deployed (error format, metrics hook, pino at warn).
// Prints req/s and p99 per target, then `services-config: ratio` (b/a) and, last,
// `services-me: ratio` (c/a), each the median over rounds of that round's ratio; targets ≥ 0.6.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import Fastify from "fastify";
import { createJwksVerifier, createLogger, createPgPool, createRedis, runMigrations, type ServiceApp } from "@fundament/kit";
import { buildApp as buildConfigApp } from "../services/config/src/app";
import { ChangeWaiters } from "../services/config/src/change-feed";
import { MIGRATIONS_DIR as CONFIG_MIGRATIONS } from "../services/config/src/migrations-dir";
import { buildApp as buildUsersApp } from "../services/users/src/app";
import { loadUsersConfig } from "../services/users/src/config";
import { connectDependencies } from "../services/users/src/dependencies";
import { startUsersTestEnvironment } from "../services/users/test/support/users-test-environment";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);

interface Result {
  requestsPerSecond: number;
  p99Ms: number;
  non2xx: number;
  errors: number;
}

interface AutocannonJson {
  requests: { average: number };
  latency: { p99: number };
  non2xx: number;
  errors: number;
}

function autocannon(url: string, headers: Record<string, string>, seconds: number): Promise<Result> {
  const args = [join(__dirname, "..", "node_modules", "autocannon", "autocannon.js"), "-j", "-c", String(CONNECTIONS), "-d", String(seconds)];
  for (const [name, value] of Object.entries(headers)) args.push("-H", `${name}=${value}`);
  args.push(url);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (err += chunk.toString()));
    child.on("exit", (code) => {
      if (code !== 0) return reject(new Error(`autocannon exited ${code}: ${err}`));
      const json = JSON.parse(out) as AutocannonJson;
      resolve({ requestsPerSecond: json.requests.average, p99Ms: json.latency.p99, non2xx: json.non2xx, errors: json.errors });
    });
  });
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function listen(app: { listen(options: { port: number; host: string }): Promise<string> }): Promise<string> {
  return app.listen({ port: 0, host: "127.0.0.1" });
}

async function main(): Promise<void> {
  const env = await startUsersTestEnvironment("benchservices");
  const closers: Array<() => Promise<unknown>> = [];
  try {
    // (c) users, as server.ts builds it.
    const usersConfig = loadUsersConfig(env.env({ LOG_LEVEL: "warn" }));
    const users: ServiceApp = await buildUsersApp(await connectDependencies(usersConfig, createLogger({ service: "users", level: "warn" })));
    const usersUrl = await listen(users);
    closers.push(() => users.close());

    const credentials = { email: "bench@example.com", password: "a sturdy passphrase 42" };
    const registered = await users.inject({ method: "POST", url: "/auth/register", payload: credentials });
    env.sql(`update users set roles = '{user,config:write}' where id = '${registered.json().id}'`);
    const { accessToken } = (await users.inject({ method: "POST", url: "/auth/login", payload: credentials })).json();

    // (b) config, verifying tokens against the users service's JWKS over HTTP.
    env.pg.psql("create database config_bench owner users_app");
    const configPool = createPgPool({ url: `postgres://users_app@127.0.0.1:${env.pg.port}/config_bench`, password: readSecret(env.env().DATABASE_PASSWORD_FILE!), applicationName: "config-bench" });
    await runMigrations({ pool: configPool, directory: CONFIG_MIGRATIONS, lockName: "config" });
    const configRedis = createRedis({ url: `redis://127.0.0.1:${env.redis.port}/1`, password: readSecret(env.env().REDIS_PASSWORD_FILE!), connectionName: "config-bench" });
    const config = await buildConfigApp({
      logger: createLogger({ service: "config", level: "warn" }),
      pool: configPool,
      redis: configRedis,
      changeFeed: new ChangeWaiters(),
      verifier: await createJwksVerifier({ jwksUrl: `${usersUrl}/.well-known/jwks.json`, issuer: "fundament-users", audience: "fundament" }),
    });
    const configUrl = await listen(config);
    closers.push(() => config.close());
    const auth = { authorization: `Bearer ${accessToken}` };
    const namespace = await config.inject({ method: "PUT", url: "/namespaces/bench", headers: auth, payload: { schema: { type: "object" } } });
    if (namespace.statusCode >= 300) throw new Error(`namespace: ${namespace.statusCode} ${namespace.body}`);
    const entry = await config.inject({ method: "PUT", url: "/namespaces/bench/environments/prod", headers: auth, payload: { document: { replicas: 3, features: { search: true } }, reason: "benchmark" } });
    if (entry.statusCode >= 300) throw new Error(`entry: ${entry.statusCode} ${entry.body}`);

    // (a) the baseline.
    const hello = Fastify();
    hello.get("/", async () => ({ hello: "world" }));
    const helloUrl = await listen(hello);
    closers.push(() => hello.close());

    const targets = [
      { name: "hello", url: `${helloUrl}/`, headers: {} },
      { name: "config", url: `${configUrl}/namespaces/bench/environments/prod`, headers: {} },
      { name: "me", url: `${usersUrl}/me`, headers: auth },
    ];
    for (const target of targets) {
      const check = await fetch(target.url, { headers: target.headers });
      if (check.status !== 200) throw new Error(`${target.name}: ${check.status} ${await check.text()}`);
      await autocannon(target.url, target.headers, 1);
    }
    console.log(`${CONNECTIONS} connections, ${SECONDS} s per target, ${ROUNDS} rounds, order rotated each round`);

    const results = new Map<string, Result[]>(targets.map((t) => [t.name, []]));
    for (let round = 0; round < ROUNDS; round += 1) {
      const order = [...targets.slice(round % targets.length), ...targets.slice(0, round % targets.length)];
      for (const target of order) {
        const result = await autocannon(target.url, target.headers, SECONDS);
        if (result.non2xx > 0 || result.errors > 0) throw new Error(`${target.name}: ${result.non2xx} non-2xx, ${result.errors} errors`);
        results.get(target.name)!.push(result);
        console.log(`round ${round + 1} ${target.name}: ${result.requestsPerSecond.toFixed(0)} req/s, p99 ${result.p99Ms} ms`);
      }
    }
    for (const target of targets) {
      const runs = results.get(target.name)!;
      console.log(`${target.name}: median ${median(runs.map((r) => r.requestsPerSecond)).toFixed(0)} req/s, p99 ${median(runs.map((r) => r.p99Ms))} ms`);
    }
    for (const close of closers.reverse()) await close();
    closers.length = 0;
    // Each round's target against the same round's baseline: the load from other work on this
    // machine drifts over a run, and a round's three measurements are the closest in time.
    const ratio = (name: string) => median(results.get(name)!.map((r, round) => r.requestsPerSecond / results.get("hello")![round]!.requestsPerSecond));
    console.log(`services-config: ratio ${ratio("config").toFixed(2)}`);
    console.log(`services-me: ratio ${ratio("me").toFixed(2)}`);
  } finally {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    await env.destroy();
  }
}

function readSecret(path: string): string {
  return readFileSync(path, "utf8").trim();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
