import type { Logger } from "@fundament/kit";
import { NotFoundError } from "./config-errors";
import type { CurrentCache } from "./current-cache";
import type { JsonObject } from "./json-patch";
import { BASE_ENVIRONMENT, effectiveDocument } from "./overlay";
import type { RollbackRequest, VersionRecord, VersionStore, WriteRequest } from "./version-store";

/** Anything that wants to hear that the outbox has new rows (the relay, or nothing in a test). */
export interface OutboxSignal {
  kick(): void;
}

export interface EffectiveConfig {
  namespace: string;
  environment: string;
  document: JsonObject;
  /** Current version of the base entry (0: none). */
  baseVersion: number;
  /** Current version of the environment's own entry (0: none). */
  version: number;
}

/**
 * Reads and writes of entries with the Redis cache in front of PostgreSQL. A cache failure
 * costs a database read, never a request: PostgreSQL stays the source of truth.
 */
export class ConfigEntries {
  constructor(
    private readonly store: VersionStore,
    private readonly cache: CurrentCache,
    private readonly outbox: OutboxSignal,
    private readonly logger: Logger,
  ) {}

  async current(namespace: string, environment: string): Promise<VersionRecord | undefined> {
    try {
      const cached = await this.cache.get(namespace, environment);
      if (cached) return cached;
    } catch (err) {
      this.logger.warn({ err }, "config cache read failed; reading PostgreSQL");
    }
    const identity = this.cache.identityNow;
    const record = await this.store.current(namespace, environment);
    if (record) await this.remember(record, identity);
    return record;
  }

  /**
   * The current version as JSON text: a cache hit goes out as Redis holds it, unparsed, which is
   * what makes the hot read cheap. The text is exactly JSON.stringify(VersionRecord).
   */
  async requireCurrentJson(namespace: string, environment: string): Promise<{ version: number; json: string }> {
    try {
      const cached = await this.cache.getJson(namespace, environment);
      if (cached) return cached;
    } catch (err) {
      this.logger.warn({ err }, "config cache read failed; reading PostgreSQL");
    }
    const record = await this.requireCurrent(namespace, environment);
    return { version: record.version, json: JSON.stringify(record) };
  }

  /** The current version, or a 404 that says whether the namespace or the entry is missing. */
  async requireCurrent(namespace: string, environment: string): Promise<VersionRecord> {
    const record = await this.current(namespace, environment);
    if (record) return record;
    await this.requireNamespace(namespace);
    throw new NotFoundError("params.environment", `${namespace}/${environment} has no version yet`);
  }

  async requireVersion(namespace: string, environment: string, version: number): Promise<VersionRecord> {
    const record = await this.store.version(namespace, environment, version);
    if (record) return record;
    await this.requireNamespace(namespace);
    throw new NotFoundError("params.version", `version ${version} of ${namespace}/${environment} does not exist`);
  }

  async requireNamespace(namespace: string): Promise<void> {
    if (!(await this.store.namespace(namespace))) throw new NotFoundError("params.namespace", `namespace ${namespace} does not exist`);
  }

  async effective(namespace: string, environment: string): Promise<EffectiveConfig> {
    const [base, own] = await Promise.all([
      this.current(namespace, BASE_ENVIRONMENT),
      environment === BASE_ENVIRONMENT ? Promise.resolve(undefined) : this.current(namespace, environment),
    ]);
    const document = effectiveDocument(environment, base?.document, own?.document);
    if (document === undefined) {
      await this.requireNamespace(namespace);
      throw new NotFoundError("params.environment", `${namespace}/${environment} has no version yet, and neither has its base`);
    }
    return { namespace, environment, document, baseVersion: base?.version ?? 0, version: environment === BASE_ENVIRONMENT ? (base?.version ?? 0) : (own?.version ?? 0) };
  }

  async write(request: WriteRequest): Promise<VersionRecord> {
    const identity = this.cache.identityNow;
    return this.changed(await this.store.write(request), identity);
  }

  async rollback(request: RollbackRequest): Promise<VersionRecord> {
    const identity = this.cache.identityNow;
    return this.changed(await this.store.rollback(request), identity);
  }

  /** The new version replaces the cached one at once, so no replica serves the old one after a write returns. */
  private async changed(record: VersionRecord, identity: string | undefined): Promise<VersionRecord> {
    await this.remember(record, identity);
    this.outbox.kick();
    return record;
  }

  private async remember(record: VersionRecord, identity: string | undefined): Promise<void> {
    try {
      await this.cache.offer(record, identity);
    } catch (err) {
      this.logger.warn({ err, namespace: record.namespace, environment: record.environment }, "config cache update failed");
    }
  }
}
