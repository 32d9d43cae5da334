// `npm run bench -- services`: autocannon (in its own process, bench/load/autocannon-load.ts, so it
// never shares the servers' event loop) against servers in this process, one run, rounds
// alternating with the order rotated each round:
//   hello      a bare Fastify hello-world: the ceiling of this machine, the baseline of every ratio;
//   spine      the same hello-world on the kit's spine as every service runs it (createService:
//              per-request child logger and completion listeners, the request-duration histogram,
//              the error format), so `services-spine` shows what the spine costs any route and
//              `services-config-over-spine` what the config read costs beyond it;
//   config     the config service's GET of an environment's current version, as deployed: served
//              from the replica's in-process copy, kept coherent by its LISTEN connection to
//              PostgreSQL (a real PostgresChangeFeed), Redis behind it as the shared level;
//   effective  the config service's GET of what an environment's consumers read (its base with
//              its own entry merged in), from the replica's held copies, and the same for an
//              environment without an entry of its own (`effective-base-only`), printed as
//              `services-config-effective` and `services-config-effective-base-only` (no goal set);
//   me         the users service's GET /me with the tokens of USERS (20,000) different accounts.
//              Before the rounds, one pass sends each token once (`me first contact`, printed
//              with its req/s and p99, not a target): every request checks an EdDSA signature
//              and reads its account from PostgreSQL (the reads of one event-loop turn folded
//              into one statement). Both results are then held in process: the verified-token
//              cache (50,000 by default) and the account cache (ACCOUNT_CACHE_MAX_ENTRIES, 50,000
//              by default), which the trigger's NOTIFY on the users table keeps coherent across
//              replicas (services/users/README.md). Each round then cycles through the tokens
//              from a different starting line, so `me` is what /me costs for a working set of
//              20,000 active users whose tokens and accounts are held: per request, a look-up
//              of the token and of the account among 20,000, no signature check and no database
//              read;
//   me-single  GET /me with one token over and over: the same two caches answer, for one user
//              (the figure the first version of this bench reported as `services-me`).
//   spine-access-log  the spine at the services' deployed log level, info: one access line a
//              request (AccessLogController), written synchronously into a pipe another process
//              drains, as a container's stdout is; printed as `services-spine-access-log` (spine
//              with its access log / bare hello, no goal set), what request logging costs a route.
//   spine-traced  the spine with an OTLP endpoint, every trace recorded (the default ratio) and
//              exported over OTLP/HTTP to a receiver in this process; `spine-traced-unrecorded`
//              the same at ratio 0 (prod records one trace in ten), printed as
//              `services-spine-traced` and `services-spine-traced-unrecorded` (no goal set): what
//              tracing costs a route, recorded and not.
// The other targets run the kit's spine with pino at warn (error format, metrics hook, no request
// lines), so their ratios are what the route costs, apart from the access log. Each
// target is warmed for BENCH_WARMUP_SECONDS first; then BENCH_ROUNDS rounds of BENCH_SECONDS a
// target, and each target's ratio is the median over rounds of (its req/s / the same round's
// hello req/s).
// Prints req/s and p99 per target and hello's range across rounds, then `services-spine: ratio`,
// `services-spine-access-log: ratio`, `services-spine-traced: ratio`, `services-spine-traced-unrecorded: ratio`,
// `services-config-over-spine: ratio` (config / spine, each round's pair), `services-config: ratio`
// (target >= 0.85, with p99 <= 5 ms at CONNECTIONS), the two effective reads' ratios,
// `services-me-single: ratio`, and last `services-me: ratio` (target >= 0.5); each ratio is the
// median of the rounds' and is followed by their lowest and highest.
import { execFileSync, spawn } from "node:child_process";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Fastify from "fastify";
import pino from "pino";
import { createJwksVerifier, createLogger, createPgPool, createRedis, createService, loadEnv, runMigrations, tracingEnv, tracingFromEnv, type ServiceApp } from "@fundament/kit";
import { buildApp as buildConfigApp } from "../services/config/src/app";
import { listenConnection, PostgresChangeFeed } from "../services/config/src/change-feed";
import { MIGRATIONS_DIR as CONFIG_MIGRATIONS } from "../services/config/src/migrations-dir";
import { buildApp as buildUsersApp } from "../services/users/src/app";
import { loadUsersConfig } from "../services/users/src/config";
import { AccessTokens } from "../services/users/src/domain/access-tokens";
import { connectDependencies } from "../services/users/src/dependencies";
import { startUsersTestEnvironment } from "../services/users/test/support/users-test-environment";
import type { LoadResult, LoadSpec } from "./load/autocannon-load";
import { testPki } from "../scripts/local-servers/shared-test-pki";
import { numericSetting } from "./support/bench-settings";
import { median } from "./support/statistics";

// Many short rounds rather than a few long ones: a round's ten slices are then seconds apart,
// and the machine's speed, which swings by a third within a minute on a shared host, drifts
// less between a target and the hello it is divided by.
const ROUNDS = numericSetting("BENCH_ROUNDS", 9);
const SECONDS = numericSetting("BENCH_SECONDS", 3);
const CONNECTIONS = numericSetting("BENCH_CONNECTIONS", 32);
const USERS = numericSetting("BENCH_USERS", 20_000);
// Each target's code is warmed before the rounds: the config read's per-request CPU was measured
// falling for its first 20-30 s of load (JIT tiers over a larger path than hello's), and what a
// long-running replica serves is the warmed path.
const WARMUP_SECONDS = numericSetting("BENCH_WARMUP_SECONDS", 10, { min: 0 });
const CONFIG_P99_TARGET_MS = 5;

type Result = LoadResult;

function autocannon(url: string, tokensFile: string | undefined, seconds: number, extra: Pick<LoadSpec, "startAt" | "amount"> = {}): Promise<Result> {
  const spec: LoadSpec = { url, connections: CONNECTIONS, seconds, ...(tokensFile === undefined ? {} : { tokensFile }), ...extra };
  const args = ["--import", "tsx", join(__dirname, "load", "autocannon-load.ts"), JSON.stringify(spec)];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (err += chunk.toString()));
    child.on("exit", (code) => {
      if (code !== 0) return reject(new Error(`autocannon exited ${code}: ${err}`));
      resolve(JSON.parse(out) as Result);
    });
  });
}


async function listen(app: { listen(options: { port: number; host: string }): Promise<string> }): Promise<string> {
  return app.listen({ port: 0, host: "127.0.0.1" });
}

async function main(): Promise<void> {
  const env = await startUsersTestEnvironment("benchservices");
  const closers: Array<() => Promise<unknown>> = [];
  const scratch = mkdtempSync(join(tmpdir(), "bench-services-"));
  try {
    // users, as server.ts builds it.
    const usersConfig = loadUsersConfig(env.env({ LOG_LEVEL: "warn" }));
    const usersDeps = await connectDependencies(usersConfig, createLogger({ service: "users", level: "warn" }));
    const users: ServiceApp = await buildUsersApp(usersDeps);
    const usersUrl = await listen(users);
    closers.push(() => users.close());

    // USERS accounts straight into the table (argon2id registration of each would take minutes and
    // is not what is measured), and a token for each signed with the service's own key.
    const { rows } = await usersDeps.pool.query<{ id: string }>(
      "insert into users (email, password_hash) select 'load-' || g || '@example.com', 'not a login' from generate_series(1, $1::int) g returning id",
      [USERS],
    );
    const issuer = new AccessTokens(usersDeps.keys, { issuer: usersDeps.settings.issuer, audience: usersDeps.settings.audience, ttlSeconds: 3600 });
    const manyTokens = join(scratch, "tokens");
    const issued: string[] = [];
    for (const row of rows) issued.push(await issuer.issue({ userId: row.id, roles: ["user"] }));
    writeFileSync(manyTokens, `${issued.join("\n")}\n`, { mode: 0o600 });

    const credentials = { email: "bench@example.com", password: "a sturdy passphrase 42" };
    const registered = await users.inject({ method: "POST", url: "/auth/register", payload: credentials });
    env.sql(`update users set roles = '{user,config:write}' where id = '${registered.json().id}'`);
    const { accessToken } = (await users.inject({ method: "POST", url: "/auth/login", payload: credentials })).json();
    const singleToken = join(scratch, "single-token");
    writeFileSync(singleToken, `${accessToken}\n`, { mode: 0o600 });

    // config, verifying tokens against the users service's JWKS over HTTP, its change feed on a
    // LISTEN session of its own as deployed.
    env.pg.psql("create database config_bench owner users_app");
    const configUrlPg = `postgres://users_app@127.0.0.1:${env.pg.port}/config_bench`;
    const configPassword = readSecret(env.env().DATABASE_PASSWORD_FILE!);
    const configPool = createPgPool({ url: configUrlPg, password: configPassword, ca: env.pg.caPem, applicationName: "config-bench" });
    await runMigrations({ pool: configPool, directory: CONFIG_MIGRATIONS, lockName: "config" });
    const configRedis = createRedis({ url: `rediss://${testPki().serverName}:${env.redis.port}/1`, tls: { ca: testPki().caPem }, password: readSecret(env.env().REDIS_PASSWORD_FILE!), connectionName: "config-bench" });
    const configLogger = createLogger({ service: "config", level: "warn" });
    const config = await buildConfigApp({
      logger: configLogger,
      pool: configPool,
      redis: configRedis,
      changeFeed: await PostgresChangeFeed.start({ connection: listenConnection(configUrlPg, configPassword, env.pg.caPem), logger: configLogger }),
      verifier: await createJwksVerifier({ jwksUrl: `${usersUrl}/.well-known/jwks.json`, issuer: "fundament-users", audience: "fundament" }),
    });
    const configUrl = await listen(config);
    closers.push(() => config.close());
    const auth = { authorization: `Bearer ${accessToken}` };
    const namespace = await config.inject({ method: "PUT", url: "/namespaces/bench", headers: auth, payload: { schema: { type: "object" } } });
    if (namespace.statusCode >= 300) throw new Error(`namespace: ${namespace.statusCode} ${namespace.body}`);
    const entry = await config.inject({ method: "PUT", url: "/namespaces/bench/environments/prod", headers: auth, payload: { document: { replicas: 3, features: { search: true } }, reason: "benchmark" } });
    if (entry.statusCode >= 300) throw new Error(`entry: ${entry.statusCode} ${entry.body}`);
    // The base every environment's effective document starts from; `dev` has no entry of its own.
    const base = await config.inject({ method: "PUT", url: "/namespaces/bench/environments/base", headers: auth, payload: { document: { replicas: 2, region: "eu" }, reason: "benchmark" } });
    if (base.statusCode >= 300) throw new Error(`base entry: ${base.statusCode} ${base.body}`);

    // the baseline.
    const hello = Fastify();
    hello.get("/", async () => ({ hello: "world" }));
    const helloUrl = await listen(hello);
    closers.push(() => hello.close());

    // What every service pays before its own route runs: the spine with a route that does nothing.
    const spine = await createService({ name: "spine", logger: createLogger({ service: "spine", level: "warn" }) });
    spine.get("/", async () => ({ hello: "world" }));
    const spineUrl = await listen(spine);
    closers.push(() => spine.close());

    // The spine at the services' deployed level, info: one access line a request, written the way
    // a container's stdout is, into a pipe that another process drains.
    const accessLogPipe = join(scratch, "access-log");
    execFileSync("mkfifo", [accessLogPipe]);
    const drain = spawn("sh", ["-c", 'exec cat "$0" > /dev/null', accessLogPipe], { stdio: "ignore" });
    closers.push(async () => void drain.kill());
    const spineAccessLog = await createService({ name: "spine", logger: createLogger({ service: "spine", level: "info", destination: pino.destination({ dest: accessLogPipe, sync: true }) }) });
    spineAccessLog.get("/", async () => ({ hello: "world" }));
    const spineAccessLogUrl = await listen(spineAccessLog);
    closers.push(() => spineAccessLog.close());

    // The spine traced as the services run with an OTLP endpoint, at warn: every trace recorded
    // (monitoring.traceSampleRatio 1, the default) and exported over OTLP/HTTP to a receiver that
    // reads each batch and answers as Jaeger does, and none of the traces it starts recorded
    // (ratio 0), which still keeps the request's trace context and binds its ids into its lines.
    const otlpSink = createServer((request, response) => {
      request.resume();
      request.on("end", () => response.writeHead(200, { "content-type": "application/json" }).end("{}"));
    });
    await new Promise<void>((resolve) => otlpSink.listen(0, "127.0.0.1", resolve));
    closers.push(() => new Promise<void>((resolve) => otlpSink.close(() => resolve())));
    const otlpEndpoint = `http://127.0.0.1:${(otlpSink.address() as AddressInfo).port}`;
    const tracedSpine = async (ratio: string) => {
      const app = await createService({
        name: "spine",
        logger: createLogger({ service: "spine", level: "warn" }),
        tracing: tracingFromEnv("spine", loadEnv(tracingEnv, { OTEL_EXPORTER_OTLP_ENDPOINT: otlpEndpoint, OTEL_TRACES_SAMPLER_ARG: ratio })),
      });
      app.get("/", async () => ({ hello: "world" }));
      closers.push(() => app.close());
      return listen(app);
    };
    const spineTracedUrl = await tracedSpine("1");
    const spineUnrecordedUrl = await tracedSpine("0");

    const targets: Array<{ name: string; url: string; tokensFile?: string }> = [
      { name: "hello", url: `${helloUrl}/` },
      { name: "spine", url: `${spineUrl}/` },
      { name: "spine-access-log", url: `${spineAccessLogUrl}/` },
      { name: "spine-traced", url: `${spineTracedUrl}/` },
      { name: "spine-traced-unrecorded", url: `${spineUnrecordedUrl}/` },
      { name: "config", url: `${configUrl}/namespaces/bench/environments/prod` },
      { name: "effective", url: `${configUrl}/namespaces/bench/environments/prod/effective` },
      { name: "effective-base-only", url: `${configUrl}/namespaces/bench/environments/dev/effective` },
      { name: "me", url: `${usersUrl}/me`, tokensFile: manyTokens },
      { name: "me-single", url: `${usersUrl}/me`, tokensFile: singleToken },
    ];
    for (const target of targets) {
      const token = target.tokensFile === undefined ? undefined : readFileSync(target.tokensFile, "utf8").split("\n")[0]!;
      const check = await fetch(target.url, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });
      if (check.status !== 200) throw new Error(`${target.name}: ${check.status} ${await check.text()}`);
      if (target.name !== "me" && WARMUP_SECONDS > 0) await autocannon(target.url, target.tokensFile, WARMUP_SECONDS);
    }
    // Every token once, in order: each request is a token's first (signature check, account read).
    const firstContact = await autocannon(`${usersUrl}/me`, manyTokens, 600, { amount: USERS });
    if (firstContact.non2xx > 0 || firstContact.errors > 0) throw new Error(`me first contact: ${firstContact.non2xx} non-2xx, ${firstContact.errors} errors`);
    console.log(`me first contact (${USERS} tokens, each once): ${firstContact.requestsPerSecond.toFixed(0)} req/s, p99 ${firstContact.p99Ms} ms`);
    console.log(`${CONNECTIONS} connections, ${SECONDS} s per target after ${WARMUP_SECONDS} s of warm-up each, ${ROUNDS} rounds, order rotated each round; me cycles ${USERS} users' tokens`);

    const results = new Map<string, Result[]>(targets.map((t) => [t.name, []]));
    for (let round = 0; round < ROUNDS; round += 1) {
      const order = [...targets.slice(round % targets.length), ...targets.slice(0, round % targets.length)];
      for (const target of order) {
        // A different first line each round, so the rounds together cover all USERS tokens.
        const result = await autocannon(target.url, target.tokensFile, SECONDS, { startAt: Math.floor((round * USERS) / ROUNDS) });
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
    // machine drifts over a run, and a round's measurements are the closest in time.
    const rounds = (name: string, baseline: string) => results.get(name)!.map((r, round) => r.requestsPerSecond / results.get(baseline)![round]!.requestsPerSecond);
    // The rounds' spread beside each median: when the machine's speed swings within the run (a
    // hello that moves by half between rounds), the pairs spread wide and one run does not decide.
    const ratio = (name: string, baseline = "hello") => {
      const each = rounds(name, baseline);
      return `${median(each).toFixed(2)} (rounds ${Math.min(...each).toFixed(2)} to ${Math.max(...each).toFixed(2)})`;
    };
    const helloRates = results.get("hello")!.map((r) => r.requestsPerSecond);
    console.log(`hello across rounds: ${Math.min(...helloRates).toFixed(0)} to ${Math.max(...helloRates).toFixed(0)} req/s`);
    const configP99 = median(results.get("config")!.map((r) => r.p99Ms));
    console.log(`services-config: p99 ${configP99} ms at ${CONNECTIONS} connections (target <= ${CONFIG_P99_TARGET_MS} ms)`);
    console.log(`services-spine: ratio ${ratio("spine")}`);
    console.log(`services-spine-access-log: ratio ${ratio("spine-access-log")}`);
    console.log(`services-spine-traced: ratio ${ratio("spine-traced")}`);
    console.log(`services-spine-traced-unrecorded: ratio ${ratio("spine-traced-unrecorded")}`);
    console.log(`services-config-over-spine: ratio ${ratio("config", "spine")}`);
    console.log(`services-config: ratio ${ratio("config")}`);
    console.log(`services-config-effective: ratio ${ratio("effective")}`);
    console.log(`services-config-effective-base-only: ratio ${ratio("effective-base-only")}`);
    console.log(`services-me-single: ratio ${ratio("me-single")}`);
    console.log(`services-me: ratio ${ratio("me")}`);
  } finally {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    await env.destroy();
    rmSync(scratch, { recursive: true, force: true });
  }
}

function readSecret(path: string): string {
  return readFileSync(path, "utf8").trim();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
