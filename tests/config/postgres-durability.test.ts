// fsync, synchronous_commit and full_page_writes stay on for every input the renderer accepts,
// as PostgreSQL itself reads the rendered file, and the checks here fail when one is turned off.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PostgresConfInput, postgresMinimumMemoryMiB, renderPostgresConf } from "../../components/database/postgres/postgres-conf";
import { PostgresServer, startPostgres } from "../../scripts/local-servers/postgres-server";
import { POSTGRES_TLS } from "../../components/database/postgres/postgres";

const DURABILITY = ["fsync", "full_page_writes", "synchronous_commit"] as const;

/** The renderer's whole input range (its validation refuses anything outside it). */
const inputs = (maxMemoryMiB: number) =>
  fc
    .record({
      cpu: fc.oneof(fc.integer({ min: 1, max: 64 }), fc.double({ min: 0.1, max: 64, noNaN: true })),
      memoryMiB: fc.integer({ min: 256, max: maxMemoryMiB }),
      maxConnections: fc.integer({ min: 10, max: 5000 }),
      storageGiB: fc.integer({ min: 1, max: 16_384 }),
      slowStatementMs: fc.option(fc.integer({ min: 0, max: 3_600_000 }), { nil: undefined }),
    })
    .filter(({ memoryMiB, maxConnections }) => memoryMiB >= postgresMinimumMemoryMiB(maxConnections))
    .map(({ cpu, memoryMiB, maxConnections, storageGiB, slowStatementMs }): PostgresConfInput => ({
      resources: { cpu, memoryMiB },
      maxConnections,
      storageGiB,
      tls: POSTGRES_TLS,
      ...(slowStatementMs === undefined ? {} : { slowStatementMs }),
    }));

describe("durability settings of the rendered postgresql.conf, as PostgreSQL reads them", () => {
  let server: PostgresServer;
  let confPath: string;
  let harnessLines: string;

  /** What the server would run with if started on `conf` (`postgres -C` loads the file as a start does). */
  const parsedProblems = (conf: string): string[] => {
    writeFileSync(confPath, conf + harnessLines);
    return DURABILITY.flatMap((name) => {
      const result = server.run("postgres", ["-D", server.dataDir, "-C", name]);
      const value = result.stdout.trim();
      return result.status === 0 && value === "on" ? [] : [`${name} = ${value || result.stderr.trim()}`];
    });
  };

  /** The running server after a restart on `conf`: SHOW, and pg_settings naming the file as the source. */
  const runningProblems = async (conf: string): Promise<string[]> => {
    await server.stop();
    writeFileSync(confPath, conf + harnessLines);
    await server.start();
    return DURABILITY.flatMap((name) => {
      const shown = server.psql(`SHOW ${name}`);
      const [setting, source, file] = server.psql(`SELECT setting, source, sourcefile FROM pg_settings WHERE name = '${name}'`).split("|");
      const problems: string[] = [];
      if (shown !== "on" || setting !== "on") problems.push(`${name}: SHOW says ${shown}, pg_settings ${setting}`);
      if (source !== "configuration file" || file !== confPath) problems.push(`${name}: set by ${source} ${file ?? ""}, not by the rendered file`);
      return problems;
    });
  };

  beforeAll(async () => {
    server = await startPostgres({ conf: renderPostgresConf({ resources: { cpu: 1, memoryMiB: 512 }, maxConnections: 20, storageGiB: 1, tls: POSTGRES_TLS }) });
    confPath = join(server.dataDir, "postgresql.conf");
    // Port, listen address and socket directory: what the harness appended to the rendered file.
    const current = readFileSync(confPath, "utf8");
    harnessLines = current.slice(current.indexOf("\n# test harness"));
  });
  afterAll(async () => server?.destroy());

  it("property: for every accepted input, all three are on in the file PostgreSQL parses", () => {
    fc.assert(
      fc.property(inputs(262_144), (input) => {
        expect(parsedProblems(renderPostgresConf(input))).toEqual([]);
      }),
      { numRuns: 30 },
    );
  });

  it("property: a server started on the file rendered for a sampled input runs with all three on, set by that file", async () => {
    // Sizes this machine can start (shared memory is allocated at start); the parse check above covers the rest.
    await fc.assert(
      fc.asyncProperty(inputs(2048), async (input) => {
        expect(await runningProblems(renderPostgresConf(input))).toEqual([]);
      }),
      { numRuns: 4 },
    );
  });

  it.each(DURABILITY)("both checks fail when the rendered file turns %s off: they tell the two apart", async (name) => {
    const weakened = `${renderPostgresConf({ resources: { cpu: 1, memoryMiB: 512 }, maxConnections: 20, storageGiB: 1, tls: POSTGRES_TLS })}\n${name} = off\n`;
    expect(parsedProblems(weakened)).toEqual([`${name} = off`]);
    expect(await runningProblems(weakened)).toContain(`${name}: SHOW says off, pg_settings off`);
  });
});
