import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  PostgresConfInput,
  postgresMemoryBudgetMiB,
  postgresMinimumMemoryMiB,
  postgresShmSizeMiB,
  postgresTuning,
  renderPostgresConf,
} from "../../components/database/postgres/postgres-conf";
import { waitFor } from "../../scripts/local-servers/free-port";
import { POSTGRES_MAJOR } from "../../components/config/server-versions";
import { PostgresServer, startPostgres } from "../../scripts/local-servers/postgres-server";
import { POSTGRES_TLS } from "../../components/database/postgres/postgres";

const settings = (conf: string): Map<string, string> =>
  new Map(
    conf
      .split("\n")
      .filter((line) => /^\w+ = /.test(line))
      .map((line) => {
        const [key, ...value] = line.split(" = ");
        return [key, value.join(" = ")];
      }),
  );

const devDefault: PostgresConfInput = { resources: { cpu: 2, memoryMiB: 4096 }, maxConnections: 100, storageGiB: 20, tls: POSTGRES_TLS };

const sizes = fc
  .record({
    cpu: fc.integer({ min: 1, max: 64 }),
    memoryMiB: fc.integer({ min: 256, max: 262_144 }),
    maxConnections: fc.integer({ min: 10, max: 5000 }),
    storageGiB: fc.integer({ min: 1, max: 16_384 }),
  })
  .filter(({ memoryMiB, maxConnections }) => memoryMiB >= postgresMinimumMemoryMiB(maxConnections))
  .map(({ cpu, memoryMiB, maxConnections, storageGiB }): PostgresConfInput => ({ resources: { cpu, memoryMiB }, maxConnections, storageGiB, tls: POSTGRES_TLS }));

describe("renderPostgresConf", () => {
  it.each([
    ["shared_buffers", "128MB"],
    ["effective_cache_size", "3072MB"],
    ["maintenance_work_mem", "64MB"],
    ["max_connections", "100"],
    ["max_wal_size", "2560MB"],
    // The server's own sizing for 128 MiB of shared_buffers; a fixed 16 MiB ran TPC-B at 0.90.
    ["wal_buffers", "4MB"],
    ["checkpoint_timeout", "15min"],
    ["log_min_duration_statement", "250"],
    ["fsync", "on"],
    ["synchronous_commit", "on"],
    ["full_page_writes", "on"],
    ["password_encryption", "'scram-sha-256'"],
    ["max_parallel_workers_per_gather", "2"],
    ["ssl", "on"],
    ["ssl_cert_file", "'/etc/postgresql/tls/tls.crt'"],
    ["ssl_key_file", "'/etc/postgresql/tls/tls.key'"],
    ["ssl_ca_file", "'/etc/postgresql/tls/ca.crt'"],
    ["ssl_min_protocol_version", "'TLSv1.2'"],
  ])("dev default (2 CPU, 4096 MiB): %s = %s", (key, value) => {
    expect(settings(renderPostgresConf(devDefault)).get(key)).toBe(value);
  });

  it("sizes wal_buffers as the server would: a thirty-second of shared_buffers, at most one 16 MiB segment", () => {
    const walBuffers = (memoryMiB: number) => settings(renderPostgresConf({ ...devDefault, resources: { cpu: 4, memoryMiB } })).get("wal_buffers");
    expect(walBuffers(8192)).toBe("8MB");
    expect(walBuffers(16384)).toBe("16MB");
    expect(walBuffers(65536)).toBe("16MB");
  });

  it("gives work_mem what is left after shared memory, maintenance and autovacuum, per connection", () => {
    const small = postgresTuning({ ...devDefault, maxConnections: 200 });
    const large = postgresTuning(devDefault);
    expect(small.workMemKiB).toBeLessThan(large.workMemKiB);
    expect(large.workMemKiB).toBeGreaterThanOrEqual(4096);
  });

  it("names the field and the reason for bad input", () => {
    expect(() => renderPostgresConf({ ...devDefault, resources: { cpu: 2, memoryMiB: 64 } })).toThrow(
      "resources.memoryMiB: must be an integer of at least 256 (got 64)",
    );
    expect(() => renderPostgresConf({ ...devDefault, resources: { cpu: 1, memoryMiB: 512 }, maxConnections: 1000 })).toThrow(
      /resources\.memoryMiB: 512 MiB cannot hold 1000 connections; give at least \d+ MiB/,
    );
    expect(() => renderPostgresConf({ ...devDefault, maxConnections: 3 })).toThrow("maxConnections: must be an integer from 10 to 5000 (got 3)");
    expect(() => renderPostgresConf({ ...devDefault, resources: { cpu: 0, memoryMiB: 4096 } })).toThrow("resources.cpu: must be a positive number (got 0)");
  });

  it("refuses a TLS file path PostgreSQL would misread, naming the field", () => {
    expect(() => renderPostgresConf({ ...devDefault, tls: { ...devDefault.tls, key: "/etc/x'; ssl = off; '" } })).toThrow(/^tls\.key: must be an absolute path/);
  });

  it("property: the planned worst case always fits the memory limit, and durability is always on", () => {
    fc.assert(
      fc.property(sizes, (input) => {
        const tuning = postgresTuning(input);
        expect(postgresMemoryBudgetMiB(tuning)).toBeLessThanOrEqual(input.resources.memoryMiB);
        expect(tuning.workMemKiB).toBeGreaterThanOrEqual(4096);
        expect(tuning.sharedBuffersMiB).toBeLessThan(input.resources.memoryMiB / 2);
        expect(tuning.maxWalSizeMiB).toBeLessThanOrEqual(Math.max(1024, (input.storageGiB * 1024) / 8));
        expect(postgresShmSizeMiB(tuning)).toBeGreaterThanOrEqual(256);
        const conf = settings(renderPostgresConf(input));
        expect([conf.get("fsync"), conf.get("synchronous_commit"), conf.get("full_page_writes")]).toEqual(["on", "on", "on"]);
      }),
      { numRuns: 500 },
    );
  });

  it("property: the smallest memory that validates is exactly postgresMinimumMemoryMiB", () => {
    fc.assert(
      fc.property(fc.integer({ min: 10, max: 5000 }), (maxConnections) => {
        const minimum = postgresMinimumMemoryMiB(maxConnections);
        expect(() => postgresTuning({ resources: { cpu: 1, memoryMiB: minimum }, maxConnections, storageGiB: 1 })).not.toThrow();
        if (minimum > 256) expect(() => postgresTuning({ resources: { cpu: 1, memoryMiB: minimum - 64 }, maxConnections, storageGiB: 1 })).toThrow();
      }),
      { numRuns: 100 },
    );
  });
});

describe(`PostgreSQL ${POSTGRES_MAJOR} with the rendered postgresql.conf`, () => {
  let server: PostgresServer;
  beforeAll(async () => {
    server = await startPostgres({ conf: renderPostgresConf({ resources: { cpu: 2, memoryMiB: 1024 }, maxConnections: 50, storageGiB: 10, tls: POSTGRES_TLS }) });
  });
  afterAll(async () => server?.destroy());

  it("starts with it, and every setting comes from the file without error", () => {
    expect(server.psql("SELECT count(*) FROM pg_file_settings WHERE error IS NOT NULL")).toBe("0");
    expect(server.psql("SELECT setting FROM pg_settings WHERE name = 'shared_buffers'")).toBe(String((128 * 1024) / 8));
    expect(server.psql("SELECT string_agg(setting, ',' ORDER BY name) FROM pg_settings WHERE name IN ('fsync', 'full_page_writes', 'synchronous_commit')")).toBe("on,on,on");
  });

  it("logs statements slower than the threshold with their duration, and not the fast ones", async () => {
    server.psql("SELECT 'fast-statement-marker'");
    server.psql("SELECT pg_sleep(0.4), 'slow-statement-marker'");
    await waitFor("the slow statement in the server log", async () => server.output().includes("slow-statement-marker"), 10_000);
    expect(server.output()).toMatch(/duration: \d+\.\d+ ms\s+statement: SELECT pg_sleep\(0\.4\), 'slow-statement-marker'/);
    expect(server.output()).not.toContain("fast-statement-marker");
  });

  it("accepts the file rendered for any size (sampled): postgres -C parses and range-checks every value", () => {
    const confPath = join(server.dataDir, "postgresql.conf");
    const original = readFileSync(confPath, "utf8");
    try {
      fc.assert(
        fc.property(sizes, (input) => {
          writeFileSync(confPath, renderPostgresConf(input));
          // `postgres -C` loads the whole file as a start would and exits non-zero on any invalid line.
          const checked = server.run("postgres", ["-D", server.dataDir, "-C", "shared_buffers"]);
          expect(checked.stderr).toBe("");
          expect(checked.status).toBe(0);
          expect(Number(checked.stdout.trim())).toBe((postgresTuning(input).sharedBuffersMiB * 1024) / 8);
        }),
        { numRuns: 25 },
      );
    } finally {
      writeFileSync(confPath, original);
    }
  });
});
