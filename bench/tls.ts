// `npm run bench -- tls`: what serving the config service over TLS costs, the way the gateway
// reaches it (HTTPS with the service's leaf, kept-alive connections). Two config apps in this
// process, each behind a listener the kit's startServer starts exactly as server.ts does (one
// plain, one with an ECDSA P-256 leaf of a throwaway CA, as the platform PKI issues), and autocannon in a
// separate process against the cached read of one environment, alternating. Each app serves it
// from its in-process copy, as a deployed replica does (its feed here is in-process: this one
// process makes every write, so it hears each one; bench/services.ts measures the LISTEN feed):
//   (a) plain HTTP, keep-alive: the baseline;
//   (b) HTTPS, keep-alive: only the record layer's cost once connections are open.
// Then the handshake: sequential requests each on a new connection, TLS vs plain, so the
// difference is what one full handshake (ECDHE + ECDSA signature) adds.
// Prints req/s and p99 per round, `tls handshake: X.XX ms per new connection`, and last
// `tls: ratio X.XX` (b/a, median of per-round ratios; target >= 0.9).
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { Agent as HttpAgent, request as httpRequest } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createJwksVerifier, createLogger, createPgPool, createRedis, runMigrations, startServer, type RunningServer } from "@fundament/kit";
import { buildApp as buildConfigApp } from "../services/config/src/app";
import { ChangeWaiters } from "../services/config/src/change-feed";
import { MIGRATIONS_DIR as CONFIG_MIGRATIONS } from "../services/config/src/migrations-dir";
import { buildApp as buildUsersApp } from "../services/users/src/app";
import { loadUsersConfig } from "../services/users/src/config";
import { connectDependencies } from "../services/users/src/dependencies";
import { startUsersTestEnvironment } from "../services/users/test/support/users-test-environment";
import { testPki } from "../scripts/local-servers/shared-test-pki";
import { numericSetting } from "./support/bench-settings";
import { median } from "./support/statistics";

const ROUNDS = numericSetting("BENCH_ROUNDS", 5);
const SECONDS = numericSetting("BENCH_SECONDS", 5);
const CONNECTIONS = numericSetting("BENCH_CONNECTIONS", 32);
const HANDSHAKES = numericSetting("BENCH_HANDSHAKES", 400);

interface Result {
  requestsPerSecond: number;
  p99Ms: number;
  non2xx: number;
  errors: number;
}

function autocannon(url: string, headers: Record<string, string>, seconds: number, caFile?: string): Promise<Result> {
  const args = [join(__dirname, "..", "node_modules", "autocannon", "autocannon.js"), "-j", "-c", String(CONNECTIONS), "-d", String(seconds)];
  for (const [name, value] of Object.entries(headers)) args.push("-H", `${name}=${value}`);
  args.push(url);
  // autocannon verifies the server like any Node client: the CA comes in through NODE_EXTRA_CA_CERTS.
  const env = caFile ? { ...process.env, NODE_EXTRA_CA_CERTS: caFile } : process.env;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"], env });
    let out = "";
    let err = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (err += chunk.toString()));
    child.on("exit", (code) => {
      if (code !== 0) return reject(new Error(`autocannon exited ${code}: ${err}`));
      const json = JSON.parse(out) as { requests: { average: number }; latency: { p99: number }; non2xx: number; errors: number };
      resolve({ requestsPerSecond: json.requests.average, p99Ms: json.latency.p99, non2xx: json.non2xx, errors: json.errors });
    });
  });
}


/**
 * A CA and a leaf for localhost and "config", ECDSA P-256 like the platform PKI's, issued with the
 * openssl CLI into `dir` (Node's crypto verifies certificates but cannot issue them).
 */
function issueLeaf(dir: string): { caFile: string; caPem: string; certPem: string; keyPem: string } {
  const run = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
  const ec = ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"];
  run("genpkey", ...ec, "-out", "ca.key");
  run("req", "-x509", "-new", "-key", "ca.key", "-subj", "/CN=bench platform CA", "-days", "1", "-out", "ca.crt", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign");
  run("genpkey", ...ec, "-out", "leaf.key");
  run("req", "-new", "-key", "leaf.key", "-subj", "/CN=config", "-out", "leaf.csr");
  writeFileSync(join(dir, "leaf.ext"), "subjectAltName=DNS:localhost,DNS:config,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
  run("x509", "-req", "-in", "leaf.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "1", "-extfile", "leaf.ext", "-out", "leaf.crt");
  const read = (file: string) => readFileSync(join(dir, file), "utf8");
  return { caFile: join(dir, "ca.crt"), caPem: read("ca.crt"), certPem: read("leaf.crt"), keyPem: read("leaf.key") };
}

/** Mean milliseconds of `count` sequential GETs, each on a fresh connection (no keep-alive). */
async function freshConnectionMs(url: URL, count: number, ca?: string): Promise<number> {
  const once = () =>
    new Promise<void>((resolve, reject) => {
      const options = { method: "GET", host: url.hostname, port: url.port, path: url.pathname, agent: url.protocol === "https:" ? new HttpsAgent({ keepAlive: false, ca, maxCachedSessions: 0 }) : new HttpAgent({ keepAlive: false }) };
      const req = (url.protocol === "https:" ? httpsRequest : httpRequest)(options, (res) => {
        res.resume();
        res.on("end", () => (res.statusCode === 200 ? resolve() : reject(new Error(`status ${res.statusCode}`))));
      });
      req.on("error", reject);
      req.end();
    });
  for (let i = 0; i < 20; i++) await once();
  const start = process.hrtime.bigint();
  for (let i = 0; i < count; i++) await once();
  return Number(process.hrtime.bigint() - start) / 1e6 / count;
}

async function main(): Promise<void> {
  const pkiDir = mkdtempSync(join(tmpdir(), "bench-tls-"));
  const { caFile, caPem, certPem, keyPem } = issueLeaf(pkiDir);
  const env = await startUsersTestEnvironment("benchtls");
  const closers: Array<() => Promise<unknown>> = [];
  try {
    const usersConfig = loadUsersConfig(env.env({ LOG_LEVEL: "warn" }));
    const users = await buildUsersApp(await connectDependencies(usersConfig, createLogger({ service: "users", level: "warn" })));
    const usersUrl = await users.listen({ port: 0, host: "127.0.0.1" });
    closers.push(() => users.close());
    const credentials = { email: "bench@example.com", password: "a sturdy passphrase 42" };
    const registered = await users.inject({ method: "POST", url: "/auth/register", payload: credentials });
    env.sql(`update users set roles = '{user,config:write}' where id = '${registered.json().id}'`);
    const { accessToken } = (await users.inject({ method: "POST", url: "/auth/login", payload: credentials })).json();

    env.pg.psql("create database config_tls_bench owner users_app");
    const secret = (file: string) => readFileSync(file, "utf8").trim();
    const databaseUrl = `postgres://users_app@127.0.0.1:${env.pg.port}/config_tls_bench`;
    const databasePassword = secret(env.env().DATABASE_PASSWORD_FILE!);
    const migrationPool = createPgPool({ url: databaseUrl, password: databasePassword, ca: env.pg.caPem, applicationName: "config-tls-bench" });
    await runMigrations({ pool: migrationPool, directory: CONFIG_MIGRATIONS, lockName: "config" });
    await migrationPool.end();
    const verifier = await createJwksVerifier({ jwksUrl: `${usersUrl}/.well-known/jwks.json`, issuer: "fundament-users", audience: "fundament" });
    // Each app owns its pool and Redis client, as each deployed replica does (the app closes them).
    const build = () =>
      buildConfigApp({
        logger: createLogger({ service: "config", level: "warn" }),
        pool: createPgPool({ url: databaseUrl, password: databasePassword, ca: env.pg.caPem, applicationName: "config-tls-bench" }),
        redis: createRedis({ url: `rediss://${testPki().serverName}:${env.redis.port}/1`, tls: { ca: testPki().caPem }, password: secret(env.env().REDIS_PASSWORD_FILE!), connectionName: "config-tls-bench" }),
        changeFeed: new ChangeWaiters(),
        verifier,
      });

    // One app per listener (startServer owns its app's lifecycle); each holds its own copy of the entry.
    const plain: RunningServer = await startServer(await build(), { port: 0, host: "127.0.0.1", probePeriodMs: 0 });
    closers.push(() => plain.shutdown("bench done"));
    const tls: RunningServer = await startServer(await build(), { port: 0, host: "127.0.0.1", probePeriodMs: 0, tls: { cert: certPem, key: keyPem } });
    closers.push(() => tls.shutdown("bench done"));

    const auth = { authorization: `Bearer ${accessToken}` };
    const put = (path: string, body: object) => fetch(`${plain.url}${path}`, { method: "PUT", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify(body) });
    for (const [path, body] of [["/namespaces/bench", { schema: { type: "object" } }], ["/namespaces/bench/environments/prod", { document: { replicas: 3, features: { search: true } }, reason: "benchmark" }]] as const) {
      const response = await put(path, body);
      if (response.status >= 300) throw new Error(`${path}: ${response.status} ${await response.text()}`);
    }
    const path = "/namespaces/bench/environments/prod";
    const targets = [
      { name: "plain", url: `${plain.url}${path}` },
      { name: "tls", url: `${tls.url}${path}` },
    ];
    for (const target of targets) await autocannon(target.url, {}, 1, caFile);
    console.log(`${CONNECTIONS} keep-alive connections, ${SECONDS} s per target, ${ROUNDS} rounds, order alternated each round`);

    const results = new Map<string, Result[]>(targets.map((t) => [t.name, []]));
    for (let round = 0; round < ROUNDS; round += 1) {
      const order = round % 2 === 0 ? targets : [...targets].reverse();
      for (const target of order) {
        const result = await autocannon(target.url, {}, SECONDS, caFile);
        if (result.non2xx > 0 || result.errors > 0) throw new Error(`${target.name}: ${result.non2xx} non-2xx, ${result.errors} errors`);
        results.get(target.name)!.push(result);
        console.log(`round ${round + 1} ${target.name}: ${result.requestsPerSecond.toFixed(0)} req/s, p99 ${result.p99Ms} ms`);
      }
    }
    const plainMs = await freshConnectionMs(new URL(targets[0].url), HANDSHAKES);
    const tlsMs = await freshConnectionMs(new URL(targets[1].url), HANDSHAKES, caPem);
    console.log(`new connection per request (${HANDSHAKES} sequential): plain ${plainMs.toFixed(3)} ms, tls ${tlsMs.toFixed(3)} ms`);
    console.log(`tls handshake: ${(tlsMs - plainMs).toFixed(2)} ms per new connection (full handshake, no session resumption)`);
    for (const close of closers.reverse()) await close();
    closers.length = 0;
    const ratio = median(results.get("tls")!.map((r, round) => r.requestsPerSecond / results.get("plain")![round]!.requestsPerSecond));
    console.log(`tls: ratio ${ratio.toFixed(2)}`);
  } finally {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    await env.destroy();
    rmSync(pkiDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
