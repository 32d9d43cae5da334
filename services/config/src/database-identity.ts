import type { Logger, Pool } from "@fundament/kit";

/**
 * Which database, in which history, the service is talking to: the cluster's system identifier
 * (new with every initdb, so a restore onto a fresh cluster changes it), its timeline (new after
 * a point-in-time recovery or a promotion) and the database's OID (new when a restore drops and
 * recreates the database in place). A logical dump carries none of the three, so a restored
 * database never passes for the one whose history it lost. Every role may read them (PostgreSQL
 * 15 to 18), and the query works through PgBouncer.
 */
export const DATABASE_IDENTITY_QUERY = `SELECT s.system_identifier::text || '-' || c.timeline_id::text || '-' || d.oid::text AS identity
FROM pg_control_system() s, pg_control_checkpoint() c, pg_database d
WHERE d.datname = current_database()`;

/** The identity the cache keys its entries under; undefined while it cannot be read. */
export interface IdentitySource {
  readonly current: string | undefined;
}

export interface DatabaseIdentityOptions {
  /** How often the identity is read again: the longest a restore can go unnoticed. */
  checkIntervalMs: number;
  logger: Logger;
}

/**
 * Reads the database identity now and every `checkIntervalMs`. A failed read makes it unknown,
 * and an unknown identity turns the cache off (reads go to PostgreSQL), so a database that is
 * being dropped and restored is never answered for from the cache.
 */
export class DatabaseIdentity implements IdentitySource {
  private value: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** A slow read must not overwrite what a later one found. */
  private generation = 0;

  constructor(
    private readonly pool: Pool,
    private readonly options: DatabaseIdentityOptions,
  ) {}

  get current(): string | undefined {
    return this.value;
  }

  async refresh(): Promise<string | undefined> {
    const generation = ++this.generation;
    let found: string | undefined;
    try {
      const { rows } = await this.pool.query<{ identity: string }>(DATABASE_IDENTITY_QUERY);
      found = rows[0]?.identity;
    } catch (err) {
      if (this.value !== undefined) this.options.logger.warn({ err }, "database identity unreadable; config cache off until it is back");
    }
    if (generation !== this.generation) return this.value;
    if (found !== undefined && this.value !== undefined && found !== this.value) {
      this.options.logger.warn({ previous: this.value, current: found }, "database identity changed (restored or replaced): cached versions of the old one are no longer served");
    }
    this.value = found;
    return found;
  }

  start(): void {
    this.stop();
    this.timer = setInterval(() => void this.refresh(), this.options.checkIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
