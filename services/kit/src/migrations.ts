import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Pool } from "pg";

export interface Migration {
  /** The numeric prefix of the file name: 001_users.sql has version 1. */
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

export interface MigrationResult {
  applied: string[];
  alreadyApplied: number;
}

const FILE = /^(\d+)[_-]([\w-]+)\.sql$/;

/** Reads `NNN_name.sql` files in version order; a gap in numbering is allowed, a duplicate is not. */
export function readMigrations(directory: string): Migration[] {
  const migrations: Migration[] = [];
  const seen = new Map<number, string>();
  for (const file of readdirSync(directory).sort()) {
    if (!file.endsWith(".sql")) continue;
    const match = FILE.exec(file);
    if (!match) throw new Error(`migration ${file}: name must look like 001_create_users.sql`);
    const version = Number(match[1]);
    const previous = seen.get(version);
    if (previous !== undefined) throw new Error(`migration ${file}: version ${version} is also used by ${previous}`);
    seen.set(version, file);
    const sql = readFileSync(join(directory, file), "utf8");
    migrations.push({ version, name: file, sql, checksum: createHash("sha256").update(sql).digest("hex") });
  }
  return migrations.sort((a, b) => a.version - b.version);
}

/** Derived from the lock name so two services sharing a database never share a lock. */
export function advisoryLockKey(name: string): bigint {
  return createHash("sha256").update(`fundament-migrations:${name}`).digest().readBigInt64BE(0);
}

export interface RunMigrationsOptions {
  pool: Pool;
  directory: string;
  /** Usually the service name; distinct per schema owner. */
  lockName: string;
  log?: (message: string) => void;
}

/**
 * Applies pending migrations, each in its own transaction, while holding a session advisory
 * lock: a second runner (two replicas' init jobs) waits, then finds nothing left to do.
 */
export async function runMigrations(options: RunMigrationsOptions): Promise<MigrationResult> {
  const migrations = readMigrations(options.directory);
  const log = options.log ?? (() => undefined);
  const client = await options.pool.connect();
  const key = advisoryLockKey(options.lockName).toString();
  try {
    // A long-running lock wait is expected here, not a runaway statement.
    await client.query("set statement_timeout = 0");
    await client.query("select pg_advisory_lock($1::bigint)", [key]);
    try {
      await client.query(`create table if not exists schema_migrations (
        version integer primary key,
        name text not null,
        checksum text not null,
        applied_at timestamptz not null default now()
      )`);
      const done = await client.query<{ version: number; name: string; checksum: string }>("select version, name, checksum from schema_migrations");
      const applied = new Map(done.rows.map((row) => [row.version, row]));
      const result: MigrationResult = { applied: [], alreadyApplied: 0 };
      for (const migration of migrations) {
        const previous = applied.get(migration.version);
        if (previous) {
          if (previous.checksum !== migration.checksum) {
            throw new Error(`migration ${migration.name}: changed after it was applied (as ${previous.name}); add a new migration instead`);
          }
          result.alreadyApplied += 1;
          continue;
        }
        await client.query("begin");
        try {
          await client.query(migration.sql);
          await client.query("insert into schema_migrations (version, name, checksum) values ($1, $2, $3)", [migration.version, migration.name, migration.checksum]);
          await client.query("commit");
        } catch (error) {
          await client.query("rollback");
          throw new Error(`migration ${migration.name} failed: ${error instanceof Error ? error.message : String(error)}`);
        }
        log(`applied ${migration.name}`);
        result.applied.push(migration.name);
      }
      return result;
    } finally {
      await client.query("select pg_advisory_unlock($1::bigint)", [key]);
    }
  } finally {
    client.release();
  }
}
