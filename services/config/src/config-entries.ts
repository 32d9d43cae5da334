import type { Logger } from "@fundament/kit";
import { NotFoundError } from "./config-errors";
import type { CurrentCache } from "./current-cache";
import type { ReplicaCache } from "./replica-cache";
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
 * Reads and writes of entries: this replica's own copies (ReplicaCache, kept coherent by the
 * change feed) in front of the Redis cache that all replicas share, in front of PostgreSQL. A
 * cache failure costs a database read, never a request: PostgreSQL stays the source of truth.
 */
export class ConfigEntries {
  constructor(
    private readonly store: VersionStore,
    private readonly cache: CurrentCache,
    private readonly replica: ReplicaCache,
    private readonly outbox: OutboxSignal,
    private readonly logger: Logger,
  ) {}

  async current(namespace: string, environment: string): Promise<VersionRecord | undefined> {
    const held = this.replica.get(namespace, environment);
    if (held) return JSON.parse(held.json) as VersionRecord;
    const found = await this.fetchCurrent(namespace, environment);
    return found?.record ?? (found ? (JSON.parse(found.json) as VersionRecord) : undefined);
  }

  /**
   * The current version as JSON text: a cache hit goes out as held, unparsed, which is what makes
   * the hot read cheap. The text is exactly JSON.stringify(VersionRecord).
   */
  async requireCurrentJson(namespace: string, environment: string): Promise<{ version: number; json: string }> {
    const held = this.replica.get(namespace, environment);
    if (held) return held;
    const found = await this.fetchCurrent(namespace, environment);
    if (found) return found;
    await this.requireNamespace(namespace);
    throw new NotFoundError("params.environment", `${namespace}/${environment} has no version yet`);
  }

  /** Redis, then PostgreSQL; whatever is found is held by this replica for the next read. */
  private async fetchCurrent(namespace: string, environment: string): Promise<{ version: number; json: string; record?: VersionRecord } | undefined> {
    // Taken before the read: a change notified meanwhile makes the replica refuse what was read.
    const readUnder = this.replica.readUnder;
    try {
      const cached = await this.cache.getJson(namespace, environment);
      // The writer puts its version into Redis after its commit, and this replica may hear the
      // NOTIFY first: a shared copy older than a notified version is not served.
      if (cached && cached.version >= (this.replica.notifiedVersion(namespace, environment) ?? 0)) {
        this.replica.offer({ namespace, environment, version: cached.version }, cached.json, readUnder);
        return cached;
      }
    } catch (err) {
      this.logger.warn({ err }, "config cache read failed; reading PostgreSQL");
    }
    const identity = this.cache.identityNow;
    const record = await this.store.current(namespace, environment);
    if (!record) return undefined;
    await this.remember(record, identity);
    const json = JSON.stringify(record);
    this.replica.offer(record, json, readUnder);
    return { version: record.version, json, record };
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
    const readUnder = this.replica.readUnder;
    return this.changed(await this.store.write(request), identity, readUnder);
  }

  async rollback(request: RollbackRequest): Promise<VersionRecord> {
    const identity = this.cache.identityNow;
    const readUnder = this.replica.readUnder;
    return this.changed(await this.store.rollback(request), identity, readUnder);
  }

  /**
   * The new version replaces the shared cached one at once, and this replica holds it, so the
   * writer reads its own write; other replicas drop their copies when the NOTIFY reaches them.
   */
  private async changed(record: VersionRecord, identity: string | undefined, readUnder: ReplicaCache["readUnder"]): Promise<VersionRecord> {
    this.replica.offer(record, JSON.stringify(record), readUnder);
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
