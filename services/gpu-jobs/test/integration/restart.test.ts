// The real service processes: gpu-jobs (src/server.ts) and users (its server.ts, for real JWTs)
// spawned as child processes against real PostgreSQL, Redis and RabbitMQ (booted with the stack's
// rendered definitions), the providers as local fake servers that count launches and terminations.
// gpu-jobs is killed with SIGKILL while one job is mid-launch and another is running; the restarted
// process must bring both to their right state without a second launch or a leaked instance.
// Both serve HTTPS with their leaf, as on the stacks: gpu-jobs fetches the users service's JWKS
// over https against the CA (JWKS_CA_FILE), and the test verifies both the same way.
import { spawn, type ChildProcess } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createPgPool, runMigrations } from "@fundament/kit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, waitFor } from "../../../../scripts/local-servers/free-port";
import { testPki } from "../../../../scripts/local-servers/shared-test-pki";
import { startRedis, type RedisServer } from "../../../../scripts/local-servers/redis-server";
import { idempotencyKey } from "../../src/providers/provider-adapter";
import { VALID_KEY } from "../fakes/fake-http-server";
import { startFakeRunpod, startFakeVastai, type FakeProvider } from "../fakes/fake-providers";
import { startGpuJobsBroker, type GpuJobsBroker } from "../support/gpu-jobs-broker";
import { type GpuJobsEnvironment, startGpuJobsEnvironment } from "../support/gpu-jobs-environment";

const JOB = {
  project: "vision",
  image: "ghcr.io/acme/train:1.0",
  command: ["python", "train.py"],
  gpu: { gpuCount: 1, minGpuMemoryGiB: 24, spot: "deny" },
  maxPricePerHour: 2,
  estimatedHours: 10,
};
/** Longer than it takes to kill the process after its launch request arrives, so no lease lapses before the kill. */
const LEASE_MS = 8000;

interface ServiceProcess {
  child: ChildProcess;
  output: () => string;
  url: string;
}

let env: GpuJobsEnvironment;
let broker: GpuJobsBroker;
let redis: RedisServer;
let vastai: FakeProvider;
let runpod: FakeProvider;
let users: ServiceProcess;
let gpuJobs: ServiceProcess;
let secrets: string;
let gpuJobsEnv: Record<string, string>;
const tokens: Record<"admin" | "alice" | "bob", string> = { admin: "", alice: "", bob: "" };

function secret(name: string, content: string): string {
  const path = join(secrets, name);
  writeFileSync(path, content, { mode: 0o600 });
  return path;
}

/** A request over HTTPS to a service, verifying its leaf against the test CA under the name it carries. */
function send(url: string, method: string, headers: Record<string, string>, body?: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const request = httpsRequest(url, { method, headers, ca: testPki().caPem, servername: testPki().serverName, agent: false }, (response) => {
      let text = "";
      response.on("data", (chunk: Buffer) => (text += chunk.toString()));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, text }));
    });
    request.on("error", reject);
    request.end(body);
  });
}

/** The leaf and key every service here serves, as files the way the platform delivers them. */
let tlsFiles: { certFile: string; keyFile: string } | undefined;
function tlsVariables(): Record<string, string> {
  tlsFiles ??= testPki().filesFor(secrets, undefined);
  return { TLS_CERT_FILE: tlsFiles.certFile, TLS_KEY_FILE: tlsFiles.keyFile, TLS_SERVER_NAME: testPki().serverName };
}

async function startProcess(name: string, entry: string, variables: Record<string, string>): Promise<ServiceProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", entry], { env: { PATH: process.env.PATH ?? "", ...variables }, stdio: ["ignore", "pipe", "pipe"] });
  let text = "";
  child.stdout!.on("data", (chunk: Buffer) => (text += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (text += chunk.toString()));
  const url = `https://127.0.0.1:${variables.PORT}`;
  await waitFor(
    `${name} ready`,
    async () => {
      if (child.exitCode !== null) throw new Error(`${name} exited ${child.exitCode}: ${text}`);
      const ready = await send(`${url}/health/ready`, "GET", {}).catch(() => undefined);
      return ready?.status === 200;
    },
    120_000,
    250,
  );
  return { child, output: () => text, url };
}

function killHard(service: ServiceProcess): Promise<void> {
  return new Promise((resolve) => {
    service.child.once("exit", () => resolve());
    service.child.kill("SIGKILL");
  });
}

async function call(service: ServiceProcess, method: string, path: string, token?: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const headers = { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { "content-type": "application/json" }) };
  const { status, text } = await send(`${service.url}${path}`, method, headers, body === undefined ? undefined : JSON.stringify(body));
  return { status, json: text === "" ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

async function login(email: string, password: string): Promise<string> {
  const answer = await call(users, "POST", "/auth/login", undefined, { email, password });
  expect(answer.status, JSON.stringify(answer.json)).toBe(200);
  return String(answer.json.accessToken);
}

const jobRow = (id: string) => env.sql(`select state || '|' || coalesce(instance_id, '') from gpu_jobs where id = '${id}'`);
const vastaiLaunches = () => vastai.server.requests.filter((request) => request.method === "PUT" && /^\/asks\/\d+\/$/.test(request.path));
const runpodLaunches = () => runpod.server.requests.filter((request) => (request.body as { query?: string } | undefined)?.query?.includes("podFindAndDeployOnDemand"));

beforeAll(async () => {
  secrets = mkdtempSync(join(tmpdir(), "gpu-jobs-restart-"));
  const redisPassword = randomBytes(18).toString("base64url");
  [env, broker, redis, vastai, runpod] = await Promise.all([startGpuJobsEnvironment(), startGpuJobsBroker(), startRedis(`requirepass ${redisPassword}\n`, { tls: true }), startFakeVastai(), startFakeRunpod()]);

  // The users service: its own database and migrations, the broker's users account, a fresh signing key.
  const usersPassword = randomBytes(18).toString("hex");
  env.postgres.psql(`create role users_app login password '${usersPassword}'`);
  env.postgres.psql("create database users_restart owner users_app");
  const usersDatabase = `postgres://users_app@127.0.0.1:${env.postgres.port}/users_restart`;
  const migrate = createPgPool({ url: usersDatabase, password: usersPassword, ca: env.databaseCa, applicationName: "users-migrate", max: 1 });
  await runMigrations({ pool: migrate, directory: join(__dirname, "..", "..", "..", "users", "migrations"), lockName: "users" });
  await migrate.end();
  const { privateKey } = generateKeyPairSync("ed25519");
  const adminPassword = "an administrator passphrase 1";
  const [usersPort, usersMetrics, gpuPort, gpuMetrics] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  users = await startProcess("users", join(__dirname, "..", "..", "..", "users", "src", "server.ts"), {
    PORT: String(usersPort),
    METRICS_PORT: String(usersMetrics),
    HOST: "127.0.0.1",
    LOG_LEVEL: "warn",
    DATABASE_URL: usersDatabase,
    DATABASE_PASSWORD_FILE: secret("users-db", usersPassword),
    DATABASE_CA_FILE: env.databaseCaPath,
    // Redis and RabbitMQ speak TLS only, dialled by the name their test leaf carries.
    REDIS_URL: `rediss://${testPki().serverName}:${redis.port}`,
    REDIS_PASSWORD_FILE: secret("redis", redisPassword),
    REDIS_CA_FILE: secret("redis-ca.crt", testPki().caPem),
    AMQP_URL: `amqps://users@${testPki().serverName}:${broker.node.amqpPort}/fundament`,
    AMQP_CA_FILE: secret("amqp-ca.crt", broker.caPem),
    AMQP_PASSWORD_FILE: secret("users-amqp", broker.passwords.users!),
    JWT_SIGNING_KEY_FILE: secret("jwt-key.pem", privateKey.export({ format: "pem", type: "pkcs8" }).toString()),
    BOOTSTRAP_ADMIN_EMAIL: "admin@fundament.test",
    BOOTSTRAP_ADMIN_PASSWORD_FILE: secret("admin-password", adminPassword),
    ARGON2_MEMORY_KIB: "7168",
    ARGON2_ITERATIONS: "1",
    SHUTDOWN_PROBE_PERIOD_MS: "0",
    ...tlsVariables(),
  });

  gpuJobsEnv = {
    PORT: String(gpuPort),
    METRICS_PORT: String(gpuMetrics),
    HOST: "127.0.0.1",
    LOG_LEVEL: process.env.GPU_JOBS_TEST_LOG_LEVEL ?? "warn",
    DATABASE_URL: env.databaseUrl,
    DATABASE_PASSWORD_FILE: secret("gpu-db", env.databasePassword),
    DATABASE_CA_FILE: env.databaseCaPath,
    AMQP_HOST: testPki().serverName,
    AMQP_PORT: String(broker.node.amqpPort),
    AMQP_CA_FILE: secret("gpu-amqp-ca.crt", broker.caPem),
    AMQP_VHOST: "fundament",
    AMQP_USER: "gpu-jobs",
    AMQP_PASSWORD_FILE: secret("gpu-amqp", broker.passwords["gpu-jobs"]!),
    // The users service's DNS name stands in as "localhost", the name its leaf carries.
    JWKS_URL: `https://${testPki().serverName}:${usersPort}/.well-known/jwks.json`,
    JWKS_CA_FILE: secret("jwks-ca.crt", testPki().caPem),
    JWT_ISSUER: "fundament-users",
    JWT_AUDIENCE: "fundament",
    JWKS_COOLDOWN_MS: "0",
    GPU_PROVIDERS: "vastai,runpod",
    VASTAI_API_URL: vastai.server.url,
    VASTAI_API_KEY_FILE: secret("vastai-key", VALID_KEY),
    RUNPOD_API_URL: runpod.server.url,
    RUNPOD_API_KEY_FILE: secret("runpod-key", VALID_KEY),
    GPU_ATTEMPT_TIMEOUT_MS: "30000",
    PROVIDER_TIMEOUT_MS: "5000",
    GPU_LEASE_MS: String(LEASE_MS),
    GPU_LOOP_INTERVAL_MS: "1000",
    GPU_REAP_INTERVAL_MS: "2000",
    GPU_OFFER_TTL_MS: "0",
    OUTBOX_POLL_MS: "500",
    SHUTDOWN_PROBE_PERIOD_MS: "0",
    ...tlsVariables(),
  };
  gpuJobs = await startProcess("gpu-jobs", join(__dirname, "..", "..", "src", "server.ts"), gpuJobsEnv);

  // Roles come from the users service: the administrator gives itself gpu:admin, alice may submit in vision, bob holds no GPU role.
  const admin = await login("admin@fundament.test", adminPassword);
  const me = await call(users, "GET", "/me", admin);
  expect((await call(users, "PUT", `/users/${String(me.json.id)}/roles`, admin, { roles: ["admin", "gpu:admin"] })).status).toBe(200);
  tokens.admin = await login("admin@fundament.test", adminPassword);
  for (const [name, roles] of [["alice", ["gpu:submit", "gpu:project:vision"]], ["bob", []]] as const) {
    const registered = await call(users, "POST", "/auth/register", undefined, { email: `${name}@fundament.test`, password: `${name} has a long passphrase` });
    expect(registered.status, JSON.stringify(registered.json)).toBe(201);
    if (roles.length > 0) expect((await call(users, "PUT", `/users/${String(registered.json.id)}/roles`, tokens.admin, { roles })).status).toBe(200);
    tokens[name] = await login(`${name}@fundament.test`, `${name} has a long passphrase`);
  }
}, 600_000);

afterAll(async () => {
  for (const service of [gpuJobs, users]) if (service && service.child.exitCode === null) await killHard(service);
  await Promise.all([vastai?.close(), runpod?.close()]);
  await Promise.all([env?.stop(), broker?.destroy(), redis?.destroy()]);
  rmSync(secrets, { recursive: true, force: true });
});

describe("tokens from the real users service", () => {
  it("lets the users service's gpu:admin set a budget and its gpu:submit holder submit; refuses a caller without the roles", async () => {
    expect((await call(gpuJobs, "PUT", "/budgets/vision", tokens.admin, { limitUsd: 500 })).status).toBe(200);
    expect((await call(gpuJobs, "PUT", "/budgets/vision", tokens.alice, { limitUsd: 5000 })).status).toBe(403);
    expect((await call(gpuJobs, "POST", "/jobs", tokens.bob, JOB)).status).toBe(403);
    expect((await call(gpuJobs, "POST", "/jobs", tokens.alice, { ...JOB, project: "audio" })).status).toBe(403);
    expect((await call(gpuJobs, "GET", "/jobs", `${tokens.alice.slice(0, -4)}AAAA`)).status).toBe(401);
    const listed = await call(gpuJobs, "GET", "/jobs", tokens.alice);
    expect(listed.status).toBe(200);
  });
});

describe("kill -9 mid-placement and mid-run", () => {
  it("resumes both jobs after a restart: the unanswered launch is adopted, the finished run is closed, nothing launched twice or leaked", async () => {
    // A job that is running when the process dies.
    const running = await call(gpuJobs, "POST", "/jobs", tokens.alice, JOB);
    expect(running.status).toBe(201);
    const runningId = String(running.json.id);
    await waitFor("first job running", async () => jobRow(runningId).startsWith("running|"), 90_000).catch((error: unknown) => {
      throw new Error(`${String(error)}; job ${jobRow(runningId)}; gpu-jobs said: ${gpuJobs.output().slice(-3000)}`);
    });

    // A job whose launch reaches the provider, which starts the instance but has not answered when the process dies.
    vastai.scenarios.push("slow_success");
    const placing = await call(gpuJobs, "POST", "/jobs", tokens.alice, JOB);
    const placingId = String(placing.json.id);
    const heldKey = idempotencyKey(placingId, 1);
    await waitFor("launch request at the provider", async () => vastaiLaunches().some((request) => (request.body as { label?: string }).label === heldKey), 60_000, 20);
    await killHard(gpuJobs);
    expect(env.sql(`select outcome from gpu_attempts where idempotency_key = '${heldKey}'`)).toBe("pending");

    // While the service is down, the running job's command finishes.
    const runningInstance = vastai.instances.find((instance) => instance.name === idempotencyKey(runningId, 1))!;
    runningInstance.state = "exited";
    const heldInstance = vastai.instances.find((instance) => instance.name === heldKey)!;

    const restartedAt = Date.now();
    gpuJobs = await startProcess("gpu-jobs (restarted)", join(__dirname, "..", "..", "src", "server.ts"), gpuJobsEnv);
    await waitFor("both jobs resumed", async () => jobRow(placingId) === `running|${heldInstance.id}` && jobRow(runningId).startsWith("succeeded|"), LEASE_MS + 120_000).catch((error: unknown) => {
      throw new Error(`${String(error)}; jobs ${jobRow(placingId)} and ${jobRow(runningId)}; restarted gpu-jobs said: ${gpuJobs.output().slice(-3000)}`);
    });
    const recoveredMs = Date.now() - restartedAt;

    expect(env.sql(`select outcome || ' ' || reason from gpu_attempts where job_id = '${placingId}' order by attempt`)).toBe("launched found by reconciliation after an unanswered launch");
    expect(runningInstance.state).toBe("terminated");
    expect(heldInstance.state).toBe("running");
    // One launch per job, ever: the restart launched nothing.
    expect(vastaiLaunches()).toHaveLength(2);
    expect(runpodLaunches()).toHaveLength(0);
    const seen = await call(gpuJobs, "GET", `/jobs/${placingId}`, tokens.alice);
    expect(seen.json).toMatchObject({ state: "running", provider: "vastai", instanceId: heldInstance.id });

    // Cancelling the adopted job terminates its instance: nothing is left running at any provider.
    expect((await call(gpuJobs, "DELETE", `/jobs/${placingId}`, tokens.alice)).status).toBe(202);
    await waitFor("adopted job cancelled", async () => jobRow(placingId).startsWith("cancelled|"), 60_000);
    expect([...vastai.instances, ...runpod.instances].filter((instance) => instance.state !== "terminated")).toEqual([]);
    expect(env.sql("select count(*) from gpu_jobs where state in ('queued', 'placing', 'running', 'cancelling')")).toBe("0");
    console.log(`gpu-jobs restart: both jobs in their right state ${recoveredMs} ms after the restart (lease ${LEASE_MS} ms)`);
  }, 420_000);
});
