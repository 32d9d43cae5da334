// `npm run bench -- postgres-tuning`: the rendered postgresql.conf against the server's stock
// configuration, same binaries, same data, one invocation.
//
// Workload size: 2 CPU / 4096 MiB (the dev default), 100 connections, 20 GiB volume.
// Data: pgbench scale 20 (2M accounts, about 300 MB) loaded identically into both servers.
// Workloads, one pair per round; a pair's slices alternate stock and rendered ABBA..., and which
// goes first alternates by round:
//   tpcb    pgbench TPC-B, 8 clients, 20 s a server and round, as four 5 s slices each
//   select  pgbench select-only, 4 clients, 10 s a server and round, as five 2 s slices each
//   report  a grouping and sorting query over all 2M accounts into 50k groups: its hash table
//           (about 16 MB) spills to disk with stock work_mem (4 MB x hash_mem_multiplier 2)
//           and mostly fits the rendered one; a mid-size report is what work_mem is sized for
//   index   CREATE INDEX on three columns of pgbench_accounts, then DROP INDEX; three builds a
//           server and round, alternating, each after a quiesce
// Statements are timed by the server round trip (psql's \timing), not psql's start-up.
//
// Equal terms, so that one server's work never lands in the other's timing:
// - Only one server works at a time. Before every slice both servers are quiesced: autovacuum is
//   off for the pgbench tables on both, and the tables a slice dirtied are VACUUMed (on both, the
//   same way) outside any timing; then CHECKPOINT on both, so neither has dirty buffers to write
//   in the background while the other is measured. A read-only workload (select) has nothing to
//   write, so one quiesce serves its whole pair.
// - Checkpoints: every slice of a writing workload starts right after a CHECKPOINT, so both
//   servers pay the same full-page writes at the start of a slice, and a slice is far shorter
//   than either server's checkpoint_timeout and WAL limit, so neither checkpoints inside one.
//   The bench counts the checkpoints that started inside measured slices and fails if there
//   were any. This leaves out what the rendered spacing buys a long-running server (fewer
//   checkpoints per hour): the comparison is conservative for the rendered file.
// - The machine is shared: every round's pair gives one ratio (rendered / stock of the mean over
//   each server's slices, > 1 means faster rendered), a workload's ratio is the median of its
//   pairs, and the last line is the geometric mean over workloads. The pair range is printed so
//   the spread shows.
//
// For settling a value by measurement: BENCH_EXTRA_CONF="commit_delay = 100" appends lines to the
// rendered file, BENCH_BASELINE=rendered makes the baseline the unmodified rendered file instead
// of stock, and BENCH_WORKLOADS=tpcb,select runs a subset.
import { join } from "node:path";
import { renderPostgresConf } from "../components/database/postgres/postgres-conf";
import { POSTGRES_BIN, startPostgres, PostgresServer } from "../scripts/local-servers/postgres-server";
import { spawnAs } from "../scripts/local-servers/server-process";
import { POSTGRES_TLS } from "../components/database/postgres/postgres";
import { choiceSetting, numericSetting } from "./support/bench-settings";
import { median } from "./support/statistics";

const RESOURCES = { cpu: 2, memoryMiB: 4096 };
const SCALE = numericSetting("BENCH_SCALE", 20);
const ROUNDS = numericSetting("BENCH_ROUNDS", 6);
const TPCB_SECONDS = numericSetting("BENCH_TPCB_SECONDS", 20);
const SELECT_SECONDS = numericSetting("BENCH_SELECT_SECONDS", 10);
const TPCB_SLICES = 4;
const SELECT_SLICES = 5;
// One build a server and round swung between about 0.8 and 1.1 s on either server (pairs 0.75 to
// 1.42 in one run): three, alternating, make a round's pair a mean instead of a coin toss.
const INDEX_SLICES = 3;
const PGBENCH_TABLES = ["pgbench_accounts", "pgbench_branches", "pgbench_tellers", "pgbench_history"];

const REPORT_QUERY = `
SELECT aid % 50000 AS bucket, count(*) AS accounts, sum(abalance) AS balance, max(filler) AS sample
FROM pgbench_accounts GROUP BY 1 ORDER BY 3 DESC, 1 LIMIT 100`;
const INDEX_SQL = "CREATE INDEX bench_accounts_bid_balance ON pgbench_accounts (bid, abalance, aid)";

type Target = { label: "stock" | "rendered"; server: PostgresServer };
type Workload = {
  name: string;
  measure: (server: PostgresServer) => Promise<number>;
  /**
   * A pair is measured as this many short slices a server, alternating ABBA..., so that a drift
   * of the machine's speed over the pair lands on both servers alike (1: one slice each).
   */
  slices: number;
  /**
   * Dirties nothing once the quiesce's VACUUM has set the hint bits, so it leaves no background
   * I/O behind and one quiesce serves its whole pair; any other workload is quiesced before
   * every slice.
   */
  readOnly: boolean;
};

/**
 * Runs a client binary without blocking the event loop. The harness reads each server's log
 * pipe on this process's event loop; a synchronous pgbench would leave the pipe undrained, and
 * once it fills, every backend that logs (a slow statement, a lock wait, a temp file) blocks on
 * the write and stalls the server. The rendered file logs more than stock, so that would bias
 * the benchmark against it for a reason no deployed server has.
 */
function runClient(server: PostgresServer, binary: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    // pgbench of the server's own root and major, as the server's user.
    const child = spawnAs(server.user, join(POSTGRES_BIN, binary), args, { PGHOST: server.socketDir, PGPORT: String(server.port) });
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve(stdout) : reject(new Error(`${binary} ${args.join(" ")} exited ${code}: ${stderr}`))));
  });
}

async function pgbenchTps(server: PostgresServer, args: string[]): Promise<number> {
  const stdout = await runClient(server, "pgbench", [...args, "postgres"]);
  const match = /tps = ([\d.]+) \(without initial connection time\)/.exec(stdout);
  if (!match) throw new Error(`pgbench printed no tps: ${stdout}`);
  return Number(match[1]);
}

const psql = (server: PostgresServer, sql: string) => runClient(server, "psql", ["-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", "postgres", "-c", sql]);

/** How fast `sql` runs, in operations per second, by the server round trip psql's \timing reports. */
async function statementPerSecond(server: PostgresServer, sql: string): Promise<number> {
  const out = await runClient(server, "psql", ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", "postgres", "-c", "\\timing on", "-c", sql]);
  const times = [...out.matchAll(/^Time: ([\d.]+) ms/gm)];
  const last = times[times.length - 1];
  if (!last) throw new Error(`psql printed no timing: ${out}`);
  return 1000 / Number(last[1]);
}

/** Checkpoints started so far (timed and requested; PostgreSQL 17 moved them to pg_stat_checkpointer). */
async function checkpointsStarted(server: PostgresServer): Promise<number> {
  return Number((await psql(server, "SELECT num_timed + num_requested FROM pg_stat_checkpointer")).trim());
}

/** Leaves both servers with nothing to do in the background: dead rows vacuumed, dirty buffers written. */
async function quiesce(targets: Target[]): Promise<void> {
  for (const { server } of targets) {
    await psql(server, `VACUUM ${PGBENCH_TABLES.join(", ")}`);
    await psql(server, "CHECKPOINT");
  }
}

const sliceSeconds = (seconds: number, slices: number) => String(Math.max(1, Math.round(seconds / slices)));

const WORKLOADS: Workload[] = [
  { name: "tpcb", measure: (s) => pgbenchTps(s, ["-n", "-c", "8", "-j", "2", "-T", sliceSeconds(TPCB_SECONDS, TPCB_SLICES)]), slices: TPCB_SLICES, readOnly: false },
  { name: "select", measure: (s) => pgbenchTps(s, ["-n", "-S", "-c", "4", "-j", "2", "-T", sliceSeconds(SELECT_SECONDS, SELECT_SLICES)]), slices: SELECT_SLICES, readOnly: true },
  { name: "report", measure: (s) => statementPerSecond(s, REPORT_QUERY), slices: 1, readOnly: false },
  {
    name: "index",
    measure: async (s) => {
      const rate = await statementPerSecond(s, INDEX_SQL);
      await psql(s, "DROP INDEX bench_accounts_bid_balance");
      return rate;
    },
    slices: INDEX_SLICES,
    readOnly: false,
  },
];

const WORKLOAD_NAMES = WORKLOADS.map((w) => w.name);
const SELECTED_WORKLOADS = process.env.BENCH_WORKLOADS === undefined ? WORKLOAD_NAMES : process.env.BENCH_WORKLOADS.split(",").map((name) => name.trim());
// Checked before any server starts: an unknown name would be left out without a word.
for (const name of SELECTED_WORKLOADS) if (!WORKLOAD_NAMES.includes(name)) throw new Error(`BENCH_WORKLOADS: ${JSON.stringify(name)} is not a workload (one of ${WORKLOAD_NAMES.join(", ")}, comma-separated)`);
const BASELINE = choiceSetting("BENCH_BASELINE", ["stock", "rendered"] as const, "stock");

async function main(): Promise<void> {
  const conf = renderPostgresConf({ resources: RESOURCES, maxConnections: 100, storageGiB: 20, tls: POSTGRES_TLS });
  const extra = process.env.BENCH_EXTRA_CONF ? `\n# BENCH_EXTRA_CONF\n${process.env.BENCH_EXTRA_CONF.replace(/;\s*/g, "\n")}\n` : "";
  const baselineConf = BASELINE === "rendered" ? conf : undefined;
  const [stock, rendered] = await Promise.all([startPostgres({ conf: baselineConf }), startPostgres({ conf: conf + extra })]);
  const targets: Target[] = [
    { label: "stock", server: stock },
    { label: "rendered", server: rendered },
  ];
  try {
    for (const { label, server } of targets) {
      await runClient(server, "pgbench", ["-i", "-q", "-s", String(SCALE), "postgres"]);
      await psql(server, "VACUUM ANALYZE");
      // Vacuumed by quiesce() between slices instead, on both servers alike: an autovacuum worker
      // started by one server's slice would otherwise run through the other's.
      for (const table of PGBENCH_TABLES) await psql(server, `ALTER TABLE ${table} SET (autovacuum_enabled = off)`);
      const show = (name: string) => server.psql(`SHOW ${name}`);
      console.log(
        `${label}: shared_buffers=${show("shared_buffers")} work_mem=${show("work_mem")} maintenance_work_mem=${show("maintenance_work_mem")} ` +
          `max_parallel_maintenance_workers=${show("max_parallel_maintenance_workers")} checkpoint_timeout=${show("checkpoint_timeout")} max_wal_size=${show("max_wal_size")}`,
      );
    }
    const insideSlices: Record<string, number> = { stock: 0, rendered: 0 };
    const results = new Map<string, number[]>();
    const workloads = WORKLOADS.filter((w) => SELECTED_WORKLOADS.includes(w.name));
    for (const workload of workloads) results.set(workload.name, []);
    for (let round = 0; round < ROUNDS; round += 1) {
      for (const workload of workloads) {
        const order = round % 2 === 0 ? targets : [...targets].reverse();
        const pair: Record<string, number> = { stock: 0, rendered: 0 };
        if (workload.readOnly) await quiesce(targets);
        for (let slice = 0; slice < workload.slices; slice += 1) {
          for (const { label, server } of slice % 2 === 0 ? order : [...order].reverse()) {
            if (!workload.readOnly) await quiesce(targets);
            const before = await checkpointsStarted(server);
            pair[label] += (await workload.measure(server)) / workload.slices;
            insideSlices[label] += (await checkpointsStarted(server)) - before;
          }
        }
        results.get(workload.name)?.push(pair.rendered / pair.stock);
        console.log(`round ${round + 1} ${workload.name}: stock ${pair.stock.toFixed(2)}/s rendered ${pair.rendered.toFixed(2)}/s ratio ${(pair.rendered / pair.stock).toFixed(2)}`);
      }
    }
    for (const { label, server } of targets) {
      console.log(`${label}: checkpoints timed/requested ${server.psql("SELECT num_timed || '/' || num_requested FROM pg_stat_checkpointer")}, ${insideSlices[label]} started inside measured slices`);
    }
    if (insideSlices.stock !== 0 || insideSlices.rendered !== 0) throw new Error("a checkpoint started inside a measured slice: the servers were not compared on equal terms");
    const geomean = (xs: number[]) => Math.exp(xs.reduce((a, x) => a + Math.log(x), 0) / xs.length);
    const ratios: number[] = [];
    for (const workload of workloads) {
      const pairs = results.get(workload.name) ?? [];
      const ratio = median(pairs);
      ratios.push(ratio);
      console.log(`${workload.name}: ratio ${ratio.toFixed(2)} (pairs ${Math.min(...pairs).toFixed(2)} to ${Math.max(...pairs).toFixed(2)})`);
    }
    console.log(`postgres-tuning: ratio ${geomean(ratios).toFixed(2)}`);
  } finally {
    await Promise.all([stock.destroy(), rendered.destroy()]);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
