// `npm run bench -- pgbouncer`: pgbench select-only with a new connection per transaction (-C),
// through PgBouncer (rendered pgbouncer.ini, transaction pooling) against straight to
// PostgreSQL (rendered postgresql.conf), alternating, same data, same service role.
//
// Both paths authenticate the same way a service does: TCP, SCRAM-SHA-256 with the role's
// generated password (from a password file), so each new connection costs the client the same
// PBKDF2 work on either path. What PgBouncer saves is the server side: no backend fork, no
// catalog cache warm-up per connection. Ratio = tps through PgBouncer / tps direct.
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { renderPgBouncerIni, renderPgBouncerUserlist } from "../components/database/postgres/pgbouncer-ini";
import { renderPostgresConf } from "../components/database/postgres/postgres-conf";
import { renderPostgresHba } from "../components/database/postgres/postgres-hba";
import { renderPostgresInitSql } from "../components/database/postgres/postgres-init-sql";
import { PGPASS_MODE, renderPgpass } from "../components/database/postgres/postgres-pgpass";
import { scramSha256Verifier } from "../components/database/postgres/postgres-scram";
import { startPgBouncer } from "../scripts/local-servers/pgbouncer-server";
import { startPostgres } from "../scripts/local-servers/postgres-server";
import { chownTo, ownedTempDir } from "../scripts/local-servers/server-process";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 4);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 15);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 8);

async function main(): Promise<void> {
  const password = randomBytes(30).toString("base64url").replace(/[-_]/g, "x");
  const verifier = scramSha256Verifier(password, randomBytes(16).toString("base64"));
  const other = scramSha256Verifier(randomBytes(20).toString("hex"), randomBytes(16).toString("base64"));
  const postgres = await startPostgres({
    conf: renderPostgresConf({ resources: { cpu: 2, memoryMiB: 4096 }, maxConnections: 100, storageGiB: 20 }),
    hba: renderPostgresHba(),
    initSql: [renderPostgresInitSql({ services: [{ role: "bench", database: "bench", scramVerifier: verifier }], monitorVerifier: other, backupVerifier: other })],
  });
  const bouncer = await startPgBouncer({
    ini: renderPgBouncerIni({
      postgresHost: postgres.host,
      postgresPort: postgres.port,
      databases: [{ name: "bench" }],
      defaultPoolSize: 20,
      maxClientConnections: 2000,
      authFile: "/unused",
    }),
    userlist: renderPgBouncerUserlist([{ user: "bench", scramVerifier: verifier }]),
  });
  const user = postgres.user;
  const secrets = ownedTempDir("pgbouncer-bench", user);
  const pgpass = join(secrets.path, "pgpass");
  writeFileSync(pgpass, renderPgpass([{ user: "bench", password }]), { mode: PGPASS_MODE });
  chownTo(pgpass, user);
  const pgbench = (port: number, args: string[]) => {
    const result = postgres.run("pgbench", ["-h", "127.0.0.1", "-p", String(port), "-U", "bench", ...args, "bench"], { PGPASSFILE: pgpass });
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
    for (let round = 0; round < ROUNDS; round += 1) {
      const pair: Record<string, number> = {};
      for (const target of round % 2 === 0 ? targets : [...targets].reverse()) {
        const out = pgbench(target.port, ["-n", "-S", "-C", "-c", String(CLIENTS), "-j", "2", "-T", String(SECONDS)]);
        // With -C pgbench reports one tps, counting each transaction's connection time.
        const tps = /tps = ([\d.]+) \(including reconnection times\)/.exec(out);
        const connect = /average connection time = ([\d.]+) ms/.exec(out);
        if (!tps || !connect) throw new Error(`pgbench printed no tps or connection time: ${out}`);
        pair[target.label] = Number(tps[1]);
        console.log(`round ${round + 1} ${target.label}: ${Number(tps[1]).toFixed(1)} tps, ${connect[1]} ms per connection`);
      }
      ratios.push(pair.pgbouncer / pair.direct);
    }
    const geomean = Math.exp(ratios.reduce((a, r) => a + Math.log(r), 0) / ratios.length);
    console.log(`pairs: ${ratios.map((r) => r.toFixed(2)).join(" ")}`);
    console.log(`pgbouncer: ratio ${geomean.toFixed(2)}`);
  } finally {
    await bouncer.destroy();
    await postgres.destroy();
    secrets.remove();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
