// `npm run bench -- postgres-tuning`: the rendered postgresql.conf against the server's stock
// configuration, same binaries, same data, alternating runs in one invocation.
//
// Workload size: 2 CPU / 4096 MiB (the dev default), 100 connections, 20 GiB volume.
// Data: pgbench scale 20 (2M accounts, about 300 MB) loaded identically into both servers.
// Workloads, each run ROUNDS times per server, stock and rendered taking turns going first:
//   tpcb    pgbench TPC-B, 8 clients, 30 s a run; both servers live for the whole benchmark
//           (about 9 minutes), so the stock server's 5-minute timed checkpoint falls inside it
//           while the rendered 15-minute spacing avoids one (counts are printed at the end)
//   select  pgbench select-only, 4 clients, 20 s a run
//   report  a grouping and sorting query over all accounts (hash aggregate, 200k groups)
//   index   CREATE INDEX on three columns of pgbench_accounts, then DROP INDEX
// Ratio per workload = rendered throughput / stock throughput (so > 1 means the rendered
// configuration is faster); the last line is the geometric mean.
//
// For settling a value by measurement: BENCH_EXTRA_CONF="commit_delay = 100" appends lines to the
// rendered file, BENCH_BASELINE=rendered makes the baseline the unmodified rendered file instead
// of stock, and BENCH_WORKLOADS=tpcb,select runs a subset.
import { performance } from "node:perf_hooks";
import { renderPostgresConf } from "../components/database/postgres-conf";
import { startPostgres, PostgresServer } from "../scripts/local-servers/postgres-server";

const RESOURCES = { cpu: 2, memoryMiB: 4096 };
const SCALE = Number(process.env.BENCH_SCALE ?? 20);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const TPCB_SECONDS = Number(process.env.BENCH_TPCB_SECONDS ?? 30);
const SELECT_SECONDS = Number(process.env.BENCH_SELECT_SECONDS ?? 20);

const REPORT_QUERY = `
SELECT aid % 200000 AS bucket, count(*) AS accounts, sum(abalance) AS balance, max(filler) AS sample
FROM pgbench_accounts GROUP BY 1 ORDER BY 3 DESC, 1 LIMIT 100`;
const INDEX_SQL = "CREATE INDEX bench_accounts_bid_balance ON pgbench_accounts (bid, abalance, aid)";

type Target = { label: "stock" | "rendered"; server: PostgresServer };
type Workload = { name: string; measure: (server: PostgresServer) => number };

function pgbenchTps(server: PostgresServer, args: string[]): number {
  const result = server.run("pgbench", [...args, "postgres"]);
  if (result.status !== 0) throw new Error(`pgbench ${args.join(" ")} failed: ${result.stderr}`);
  const match = /tps = ([\d.]+) \(without initial connection time\)/.exec(result.stdout);
  if (!match) throw new Error(`pgbench printed no tps: ${result.stdout}`);
  return Number(match[1]);
}

/** Operations per second of a statement run `times` times over one psql session. */
function statementsPerSecond(server: PostgresServer, sql: string, times: number): number {
  const started = performance.now();
  for (let i = 0; i < times; i += 1) server.psql(sql);
  return times / ((performance.now() - started) / 1000);
}

const WORKLOADS: Workload[] = [
  { name: "tpcb", measure: (s) => pgbenchTps(s, ["-n", "-c", "8", "-j", "2", "-T", String(TPCB_SECONDS)]) },
  { name: "select", measure: (s) => pgbenchTps(s, ["-n", "-S", "-c", "4", "-j", "2", "-T", String(SELECT_SECONDS)]) },
  { name: "report", measure: (s) => statementsPerSecond(s, REPORT_QUERY, 3) },
  {
    name: "index",
    measure: (s) => {
      const started = performance.now();
      for (let i = 0; i < 2; i += 1) {
        s.psql(INDEX_SQL);
        s.psql("DROP INDEX bench_accounts_bid_balance");
      }
      return 2 / ((performance.now() - started) / 1000);
    },
  },
];

async function main(): Promise<void> {
  const conf = renderPostgresConf({ resources: RESOURCES, maxConnections: 100, storageGiB: 20 });
  const extra = process.env.BENCH_EXTRA_CONF ? `\n# BENCH_EXTRA_CONF\n${process.env.BENCH_EXTRA_CONF.replace(/;\s*/g, "\n")}\n` : "";
  const baselineConf = process.env.BENCH_BASELINE === "rendered" ? conf : undefined;
  const [stock, rendered] = await Promise.all([startPostgres({ conf: baselineConf }), startPostgres({ conf: conf + extra })]);
  const targets: Target[] = [
    { label: "stock", server: stock },
    { label: "rendered", server: rendered },
  ];
  try {
    for (const { label, server } of targets) {
      const init = server.run("pgbench", ["-i", "-q", "-s", String(SCALE), "postgres"]);
      if (init.status !== 0) throw new Error(`pgbench -i on ${label} failed: ${init.stderr}`);
      server.psql("VACUUM ANALYZE");
      console.log(`${label}: shared_buffers=${server.psql("SHOW shared_buffers")} work_mem=${server.psql("SHOW work_mem")}`);
    }
    const results = new Map<string, { stock: number[]; rendered: number[] }>();
    const selected = process.env.BENCH_WORKLOADS?.split(",") ?? WORKLOADS.map((w) => w.name);
    const workloads = WORKLOADS.filter((w) => selected.includes(w.name));
    for (const workload of workloads) results.set(workload.name, { stock: [], rendered: [] });
    for (let round = 0; round < ROUNDS; round += 1) {
      for (const workload of workloads) {
        const order = round % 2 === 0 ? targets : [...targets].reverse();
        for (const { label, server } of order) {
          const value = workload.measure(server);
          results.get(workload.name)?.[label].push(value);
          console.log(`round ${round + 1} ${workload.name} ${label}: ${value.toFixed(2)}/s`);
        }
      }
    }
    for (const { label, server } of targets) {
      console.log(`${label}: checkpoints timed/requested ${server.psql("SELECT checkpoints_timed || '/' || checkpoints_req FROM pg_stat_bgwriter")}`);
    }
    const ratios: number[] = [];
    for (const workload of workloads) {
      const r = results.get(workload.name);
      if (!r) continue;
      const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
      const ratio = sum(r.rendered) / sum(r.stock);
      ratios.push(ratio);
      console.log(`${workload.name}: ratio ${ratio.toFixed(2)}`);
    }
    const geomean = Math.exp(ratios.reduce((a, r) => a + Math.log(r), 0) / ratios.length);
    console.log(`postgres-tuning: ratio ${geomean.toFixed(2)}`);
  } finally {
    await Promise.all([stock.destroy(), rendered.destroy()]);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
