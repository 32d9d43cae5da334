// `npm run bench -- pgbouncer`: two comparisons, PgBouncer (rendered pgbouncer.ini, transaction
// pooling, pool size 20) against PostgreSQL directly (rendered postgresql.conf), same data, same
// service role, alternating rounds in one run.
//
// 1. `-C`: pgbench select-only with a new connection per transaction, 8 clients on either path.
//    Both paths authenticate the way a service does (TCP, SCRAM-SHA-256 with the role's generated
//    password from a password file), so the client pays the same PBKDF2 work per connection on
//    either path; what PgBouncer saves is the server side: no backend fork, no catalog cache
//    warm-up per connection. `pgbouncer: ratio` = tps through PgBouncer / tps direct, target >= 2.0.
//    pgbench connects a thread's clients one after another, so tps is about threads / connection
//    time; each run prints the machine's CPU per connection and pgbench's own share of it, the
//    part neither path can save, and the run the bound that share sets on the ratio while the
//    cores are the limit (a machine where a direct connection is cheap cannot reach 2.0).
// 2. Fan-in, what a pooler is for: 1,000 concurrent clients running pgbench's short write
//    transaction (simple-update, -N) through PgBouncer against 20 direct clients (the pool size,
//    so the same number of server backends) running the same transaction. Both must finish with
//    0 failed transactions. `pgbouncer-fanin: ratio` = PgBouncer's tps / direct tps (each without
//    the initial connection time), target >= 0.9. Each round also runs the pool size's 20 clients
//    through PgBouncer, which splits that ratio in two: `pgbouncer-hop` (20 through PgBouncer / 20
//    direct) is what the extra hop costs, `pgbouncer-multiplexing` (1,000 / 20, both through
//    PgBouncer) what serving 1,000 clients on 20 server connections costs on top. The run also
//    shows what 1,000 direct clients get from PostgreSQL: refusals at max_connections. Each
//    fan-in run prints how busy the machine was and PgBouncer's share of it (/proc): on a small
//    machine the load generator, PgBouncer and PostgreSQL share the cores, so a busy machine
//    means the paths compete for CPU rather than for PostgreSQL. The run ends with the CPU each
//    transaction cost the machine directly and PgBouncer on its own, and the ratio that bounds
//    while the cores are the limit: direct / (direct + PgBouncer's own). BENCH_FANIN_WORKLOAD=single
//    (default simple-update) runs a one-statement autocommit update instead of -N's five round
//    trips, which hold a server connection between them.
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Client } from "pg";
import { renderPgBouncerIni, renderPgBouncerUserlist } from "../components/database/postgres/pgbouncer-ini";
import { renderPostgresConf } from "../components/database/postgres/postgres-conf";
import { renderPostgresHba } from "../components/database/postgres/postgres-hba";
import { renderPostgresInitSql } from "../components/database/postgres/postgres-init-sql";
import { PGPASS_MODE, renderPgpass } from "../components/database/postgres/postgres-pgpass";
import { scramSha256Verifier } from "../components/database/postgres/postgres-scram";
import { startPgBouncer } from "../scripts/local-servers/pgbouncer-server";
import { startPostgres } from "../scripts/local-servers/postgres-server";
import { chownTo, ownedTempDir } from "../scripts/local-servers/server-process";
import { POSTGRES_TLS } from "../components/database/postgres/postgres";
import { PGBOUNCER_TLS } from "../components/database/postgres/pgbouncer";
import { choiceSetting, numericSetting } from "./support/bench-settings";
import { CLOCK_TICKS_PER_SECOND, childrenTicks, machineTicks, processTicks } from "./support/cpu-accounting";
import { median } from "./support/statistics";

const ROUNDS = numericSetting("BENCH_ROUNDS", 4);
const SECONDS = numericSetting("BENCH_SECONDS", 15);
const CLIENTS = numericSetting("BENCH_CLIENTS", 8);
const FANIN_ROUNDS = numericSetting("BENCH_FANIN_ROUNDS", 4);
const FANIN_SECONDS = numericSetting("BENCH_FANIN_SECONDS", 20);
const FANIN_CLIENTS = numericSetting("BENCH_FANIN_CLIENTS", 1000);
const FANIN_THREADS = numericSetting("BENCH_FANIN_THREADS", 2);
// Checked before any server starts: a typo would otherwise measure -N under another name.
const FANIN_WORKLOAD = choiceSetting("BENCH_FANIN_WORKLOAD", ["simple-update", "single"] as const, "simple-update");
/** PgBouncer's default_pool_size here, and so the direct side's client count in the fan-in. */
const POOL_SIZE = 20;
const MAX_CONNECTIONS = 100;

const geometricMean = (values: number[]): number => Math.exp(values.reduce((sum, value) => sum + Math.log(value), 0) / values.length);

async function main(): Promise<void> {
  const password = randomBytes(30).toString("base64url").replace(/[-_]/g, "x");
  const verifier = scramSha256Verifier(password, randomBytes(16).toString("base64"));
  const other = scramSha256Verifier(randomBytes(20).toString("hex"), randomBytes(16).toString("base64"));
  const postgres = await startPostgres({
    conf: renderPostgresConf({ resources: { cpu: 2, memoryMiB: 4096 }, maxConnections: MAX_CONNECTIONS, storageGiB: 20, tls: POSTGRES_TLS }),
    hba: renderPostgresHba(),
    initSql: [renderPostgresInitSql({ services: [{ role: "bench", database: "bench", scramVerifier: verifier }], monitorVerifier: other, backupVerifier: other })],
  });
  const bouncer = await startPgBouncer({
    ini: renderPgBouncerIni({
      postgresHost: postgres.host,
      postgresPort: postgres.port,
      databases: [{ name: "bench" }],
      defaultPoolSize: POOL_SIZE,
      maxClientConnections: 2000,
      authFile: "/unused",
      // The harness gives PgBouncer its own leaf and CA in place of these paths.
      tls: PGBOUNCER_TLS,
    }),
    userlist: renderPgBouncerUserlist([{ user: "bench", scramVerifier: verifier }]),
  });
  const user = postgres.user;
  const secrets = ownedTempDir("pgbouncer-bench", user);
  const pgpass = join(secrets.path, "pgpass");
  writeFileSync(pgpass, renderPgpass([{ user: "bench", password }]), { mode: PGPASS_MODE });
  chownTo(pgpass, user);
  // One short autocommit transaction: the shape of most of the services' writes.
  const singleStatement = join(secrets.path, "single-statement.sql");
  writeFileSync(singleStatement, "\\set aid random(1, 1000000)\n\\set delta random(-5000, 5000)\nUPDATE pgbench_accounts SET abalance = abalance + :delta WHERE aid = :aid RETURNING abalance;\n");
  chownTo(singleStatement, user);
  const fanInWorkload = FANIN_WORKLOAD === "single" ? ["-f", singleStatement] : ["-N"];
  const pgbenchRun = (port: number, args: string[]) =>
    postgres.run("pgbench", ["-h", "127.0.0.1", "-p", String(port), "-U", "bench", ...args, "bench"], { PGPASSFILE: pgpass });
  const pgbench = (port: number, args: string[]) => {
    const result = pgbenchRun(port, args);
    if (result.status !== 0) throw new Error(`pgbench ${args.join(" ")} on port ${port} failed: ${result.stderr}`);
    return result.stdout;
  };
  try {
    pgbench(postgres.port, ["-i", "-q", "-s", "10"]);
    const targets = [
      { label: "direct", port: postgres.port },
      { label: "pgbouncer", port: bouncer.port },
    ] as const;
    // The machine is shared: each round gives one ratio from a back-to-back pair, and the
    // result is their geometric mean, so load that drifts between rounds cancels out.
    const ratios: number[] = [];
    const clientCpuMs: Record<string, number[]> = {};
    /** Milliseconds of the whole machine's CPU per connection (and its one transaction), by path. */
    const connectionMachineMs: Record<string, number[]> = {};
    for (let round = 0; round < ROUNDS; round += 1) {
      const pair: Record<string, number> = {};
      for (const target of round % 2 === 0 ? targets : [...targets].reverse()) {
        const clientBefore = childrenTicks();
        const machineBefore = machineTicks();
        const out = pgbench(target.port, ["-n", "-S", "-C", "-c", String(CLIENTS), "-j", "2", "-T", String(SECONDS)]);
        const clientTicks = childrenTicks() - clientBefore;
        const machineBusy = machineTicks().busy - machineBefore.busy;
        // With -C pgbench reports one tps, counting each transaction's connection time.
        const tps = /tps = ([\d.]+) \(including reconnection times\)/.exec(out);
        const connect = /average connection time = ([\d.]+) ms/.exec(out);
        const processed = /number of transactions actually processed: (\d+)/.exec(out);
        if (!tps || !connect || !processed) throw new Error(`pgbench printed no tps, connection time or transaction count: ${out}`);
        pair[target.label] = Number(tps[1]);
        // pgbench connects each thread's clients one after another, so tps is about threads / connection time.
        const clientMs = (clientTicks * 1000) / CLOCK_TICKS_PER_SECOND / Number(processed[1]);
        (clientCpuMs[target.label] ??= []).push(clientMs);
        const machineMs = (machineBusy * 1000) / CLOCK_TICKS_PER_SECOND / Number(processed[1]);
        (connectionMachineMs[target.label] ??= []).push(machineMs);
        console.log(
          `round ${round + 1} ${target.label}: ${Number(tps[1]).toFixed(1)} tps, ${connect[1]} ms per connection, ` +
            `machine CPU ${machineMs.toFixed(2)} ms per connection, pgbench's own ${clientMs.toFixed(2)} ms`,
        );
      }
      ratios.push(pair.pgbouncer / pair.direct);
    }
    console.log(`pairs: ${ratios.map((r) => r.toFixed(2)).join(" ")}`);
    const connectRatio = geometricMean(ratios);
    // The client's TLS handshake and SCRAM proof (4,096 PBKDF2 rounds in libpq) are paid on either
    // path; PgBouncer can only save the server's share, so the ratio is bounded by how large that is.
    const meanOf = (values: number[] = []) => values.reduce((sum, value) => sum + value, 0) / Math.max(1, values.length);
    console.log(
      `pgbench's own CPU per connection: direct ${meanOf(clientCpuMs.direct).toFixed(2)} ms, through PgBouncer ${meanOf(clientCpuMs.pgbouncer).toFixed(2)} ms ` +
        `(paid on either path; PgBouncer saves only the server's part of a connection)`,
    );
    // With the cores full, tps is about cores / machine CPU per connection. Through PgBouncer a
    // connection still costs at least pgbench's own part, so the ratio cannot pass the direct
    // path's machine CPU over that part: where a direct connection is cheap, 2.0 is out of reach.
    const directMachine = meanOf(connectionMachineMs.direct);
    console.log(
      `machine CPU per connection: direct ${directMachine.toFixed(2)} ms, through PgBouncer ${meanOf(connectionMachineMs.pgbouncer).toFixed(2)} ms; ` +
        `while the cores are the limit, no -C ratio exceeds about ${(directMachine / meanOf(clientCpuMs.pgbouncer)).toFixed(2)}`,
    );

    // What 1,000 clients get from PostgreSQL itself: max_connections (less the superuser
    // reserve) admits the first ones, the rest are refused at login. pgbench stops at its first
    // refused connection, so the clients here are node-postgres ones, all opened at once.
    const flood = await openAtOnce(postgres.port, password, postgres.caPem, FANIN_CLIENTS);
    console.log(
      `direct with ${FANIN_CLIENTS} clients at once: ${flood.connected} connected, ${FANIN_CLIENTS - flood.connected} refused against max_connections = ${MAX_CONNECTIONS}` +
        [...flood.refused].map(([message, count]) => `; ${count} x "${message}"`).join(""),
    );
    if (flood.connected >= FANIN_CLIENTS) throw new Error(`${FANIN_CLIENTS} direct clients were expected to be refused, and all connected`);
    // Any other refusal (no TLS, a wrong password) would show nothing about max_connections.
    const otherRefusals = [...flood.refused.keys()].filter((message) => !/too many clients|connection slots are reserved/.test(message) && message !== "read ECONNRESET");
    if (otherRefusals.length > 0) throw new Error(`direct clients were refused for another reason than max_connections: ${otherRefusals.join("; ")}`);

    const fanIn = [
      { label: `direct ${POOL_SIZE} clients`, port: postgres.port, clients: POOL_SIZE, key: "direct" },
      { label: `pgbouncer ${FANIN_CLIENTS} clients`, port: bouncer.port, clients: FANIN_CLIENTS, key: "pgbouncer" },
      { label: `pgbouncer ${POOL_SIZE} clients`, port: bouncer.port, clients: POOL_SIZE, key: "hop" },
    ] as const;
    const bouncerPid = Number(readFileSync(join(bouncer.dir, "pgbouncer.pid"), "utf8").trim());
    const fanInRatios: number[] = [];
    const hopRatios: number[] = [];
    const multiplexingRatios: number[] = [];
    /** Milliseconds of CPU per transaction, by target: the whole machine's and PgBouncer's own. */
    const machineMs: Record<string, number[]> = {};
    const bouncerMs: Record<string, number[]> = {};
    for (let round = 0; round < FANIN_ROUNDS; round += 1) {
      const pair: Record<string, number> = {};
      // Each round starts with the next target, so no target always runs first or last.
      const order = fanIn.map((_, index) => fanIn[(index + round) % fanIn.length]!);
      for (const target of order) {
        const before = { machine: machineTicks(), bouncer: processTicks(bouncerPid) };
        const out = pgbench(target.port, ["-n", ...fanInWorkload, "-c", String(target.clients), "-j", String(FANIN_THREADS), "-T", String(FANIN_SECONDS)]);
        const machine = machineTicks();
        // Where the two cores went: a busy machine means the paths compete for CPU, not for PostgreSQL.
        const busy = (machine.busy - before.machine.busy) / (machine.total - before.machine.total);
        const bouncerShare = (processTicks(bouncerPid) - before.bouncer) / (machine.total - before.machine.total);
        // Connecting 1,000 SCRAM clients takes seconds of pgbench's own CPU; pgbench leaves it out of this figure.
        const tps = /tps = ([\d.]+) \(without initial connection time\)/.exec(out);
        const failed = /number of failed transactions: (\d+)/.exec(out);
        const processed = /number of transactions actually processed: (\d+)/.exec(out);
        if (!tps || !processed) throw new Error(`pgbench printed no tps: ${out}`);
        const failures = failed ? Number(failed[1]) : 0;
        if (failures > 0) throw new Error(`${target.label}: ${failures} failed transactions: ${out}`);
        pair[target.key] = Number(tps[1]);
        const msPerTransaction = (ticks: number) => (ticks * 1000) / CLOCK_TICKS_PER_SECOND / Number(processed[1]);
        (machineMs[target.key] ??= []).push(msPerTransaction(machine.busy - before.machine.busy));
        (bouncerMs[target.key] ??= []).push(msPerTransaction(processTicks(bouncerPid) - before.bouncer));
        console.log(
          `fan-in round ${round + 1} ${target.label}: ${Number(tps[1]).toFixed(1)} tps, ${processed[1]} transactions, 0 failed; ` +
            `machine ${(busy * 100).toFixed(0)}% busy, PgBouncer ${(bouncerShare * 100).toFixed(0)}% of it all`,
        );
      }
      fanInRatios.push(pair.pgbouncer! / pair.direct!);
      hopRatios.push(pair.hop! / pair.direct!);
      multiplexingRatios.push(pair.pgbouncer! / pair.hop!);
    }
    console.log(`fan-in pairs: ${fanInRatios.map((r) => r.toFixed(2)).join(" ")}`);
    console.log(`pgbouncer-hop: ratio ${geometricMean(hopRatios).toFixed(2)} (${POOL_SIZE} clients through PgBouncer / ${POOL_SIZE} direct)`);
    console.log(`pgbouncer-multiplexing: ratio ${geometricMean(multiplexingRatios).toFixed(2)} (${FANIN_CLIENTS} clients / ${POOL_SIZE}, both through PgBouncer)`);
    // A busy machine serves about cores / CPU per transaction. PgBouncer's own CPU per transaction
    // (read where it holds only the pool's 20 clients, so 1,000 SCRAM logins do not count) comes
    // on top of what the direct path spends in pgbench and PostgreSQL, which bounds any ratio
    // through it while it shares the cores: the limit a faster PgBouncer setting would have to move.
    const direct = median(machineMs.direct ?? []);
    const bouncerOwn = median(bouncerMs.hop ?? []);
    console.log(
      `CPU per transaction (median of rounds): direct ${direct.toFixed(3)} ms of the machine; PgBouncer's own ${bouncerOwn.toFixed(3)} ms ` +
        `(20 clients), ${median(bouncerMs.pgbouncer ?? []).toFixed(3)} ms (${FANIN_CLIENTS} clients, their logins included); ` +
        `while the cores are the limit, no ratio through PgBouncer exceeds ${(direct / (direct + bouncerOwn)).toFixed(2)}`,
    );
    console.log(`pgbouncer-fanin: ratio ${geometricMean(fanInRatios).toFixed(2)}`);
    console.log(`pgbouncer: ratio ${connectRatio.toFixed(2)}`);
  } finally {
    await bouncer.destroy();
    await postgres.destroy();
    secrets.remove();
  }
}

/** Opens `count` connections at once and holds them until all have answered; counts refusals by message. */
async function openAtOnce(port: number, password: string, ca: string, count: number): Promise<{ connected: number; refused: Map<string, number> }> {
  const opened: Client[] = [];
  const refused = new Map<string, number>();
  await Promise.all(
    Array.from({ length: count }, async () => {
      // Over verified TLS, as every client: the server admits network logins only on hostssl lines.
      const client = new Client({ host: "127.0.0.1", port, user: "bench", database: "bench", password, ssl: { ca }, connectionTimeoutMillis: 120_000 });
      client.on("error", () => undefined);
      try {
        await client.connect();
        opened.push(client);
      } catch (error) {
        const message = (error as Error).message;
        refused.set(message, (refused.get(message) ?? 0) + 1);
      }
    }),
  );
  await Promise.all(opened.map((client) => client.end().catch(() => undefined)));
  return { connected: opened.length, refused };
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
