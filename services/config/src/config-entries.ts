import type { Logger } from "@fundament/kit";
import { NotFoundError } from "./config-errors";
import type { CurrentCache } from "./current-cache";
import type { HeldCopy, ReadUnder, ReplicaCache } from "./replica-cache";
import type { JsonObject } from "./json-patch";
import { BASE_ENVIRONMENT, effectiveDocument } from "./overlay";
import type { RollbackRequest, VersionRecord, VersionStore, WriteRequest } from "./version-store";

/** Anything that wants to hear that the outbox has new rows (the relay, or nothing in a test). */
export interface OutboxSignal {
  kick(): void;
}

/** A version the caller already knows of, and the request field it came in (named when refused). */
export interface AtLeast {
  version: number;
  field: string;
}

const NO_MINIMUM: AtLeast = { version: 0, field: "" };

const higher = (a: AtLeast, b: AtLeast): AtLeast => (b.version > a.version ? b : a);

/**
 * PostgreSQL itself is behind the version the caller names: it was never written, or the database
 * was restored from a backup older than it. Either way waiting would not help.
 */
const behind = (atLeast: AtLeast, namespace: string, environment: string, current: number): NotFoundError =>
  new NotFoundError(
    atLeast.field,
    `version ${atLeast.version} of ${namespace}/${environment} does not exist; ${current === 0 ? "it has no version yet" : `the current version is ${current}`}`,
  );

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
  /**
   * Effective documents as JSON text, by the held copies they were made from: a copy that is
   * replaced or dropped is another key, so a text made from an older copy is never found again.
   */
  private readonly effectiveText = new WeakMap<HeldCopy, { base: HeldCopy; json: string }>();

  constructor(
    private readonly store: VersionStore,
    private readonly cache: CurrentCache,
    private readonly replica: ReplicaCache,
    private readonly outbox: OutboxSignal,
    private readonly logger: Logger,
  ) {}

  /**
   * The current version; `atLeast` is a version the caller knows exists (it wrote it, through any
   * replica): copies older than that are passed over for PostgreSQL, so a client that reads back
   * its write through another replica does not depend on that replica having heard the NOTIFY.
   */
  async current(namespace: string, environment: string, atLeast: AtLeast = NO_MINIMUM): Promise<VersionRecord | undefined> {
    const found = await this.lookup(namespace, environment, atLeast);
    return found === undefined ? undefined : (found.record ?? (JSON.parse(found.json) as VersionRecord));
  }

  /**
   * The current version as JSON text: a cache hit goes out as held, unparsed, which is what makes
   * the hot read cheap. The text is exactly JSON.stringify(VersionRecord).
   */
  async requireCurrentJson(namespace: string, environment: string, atLeast: AtLeast = NO_MINIMUM): Promise<{ version: number; json: string }> {
    const found = await this.lookup(namespace, environment, atLeast);
    if (found) return found;
    await this.requireNamespace(namespace);
    throw new NotFoundError("params.environment", `${namespace}/${environment} has no version yet`);
  }

  /** This replica's copy, then Redis, then PostgreSQL; refused when even PostgreSQL is behind `atLeast`. */
  private async lookup(namespace: string, environment: string, atLeast: AtLeast): Promise<{ version: number; json: string; record?: VersionRecord } | undefined> {
    const held = this.replica.get(namespace, environment);
    if (held && held.version >= atLeast.version) return held.json === undefined ? undefined : held;
    const found = await this.fetchCurrent(namespace, environment, atLeast.version);
    if ((found?.version ?? 0) < atLeast.version) {
      await this.requireNamespace(namespace);
      throw behind(atLeast, namespace, environment, found?.version ?? 0);
    }
    return found;
  }

  /** Redis, then PostgreSQL; whatever is found is held by this replica for the next read. */
  private async fetchCurrent(namespace: string, environment: string, atLeast: number): Promise<{ version: number; json: string; record?: VersionRecord } | undefined> {
    // Taken before the read: a change notified meanwhile makes the replica refuse what was read.
    const readUnder = this.replica.readUnder;
    try {
      const cached = await this.cache.getJson(namespace, environment);
      // The writer puts its version into Redis after its commit, and this replica may hear the
      // NOTIFY first: a shared copy older than a notified version is not served.
      if (cached && cached.version >= Math.max(atLeast, this.replica.notifiedVersion(namespace, environment) ?? 0)) {
        this.replica.offer({ namespace, environment, version: cached.version }, cached.json, readUnder);
        return cached;
      }
    } catch (err) {
      this.logger.warn({ err }, "config cache read failed; reading PostgreSQL");
    }
    const identity = this.cache.identityNow;
    const record = await this.store.current(namespace, environment);
    if (!record) {
      this.replica.offerNone({ namespace, environment }, readUnder);
      return undefined;
    }
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

  /**
   * The current version as JSON text when this replica holds it, without a promise: the read
   * consumers poll, sent in the turn it arrives like the held effective read. Undefined (not
   * held, held as "none yet", or older than `atLeast`) sends the caller to `requireCurrentJson`,
   * which goes on to Redis and PostgreSQL and says which 404.
   */
  heldCurrentJson(namespace: string, environment: string, atLeast: AtLeast = NO_MINIMUM): { version: number; json: string } | undefined {
    const held = this.replica.get(namespace, environment);
    if (held === undefined || held.json === undefined || held.version < atLeast.version) return undefined;
    return held;
  }

  /**
   * The effective document as JSON text when this replica holds both copies it is made of (the
   * base's and the environment's own, either of them perhaps "none yet"), without a promise: the
   * read consumers poll. Undefined sends the caller to `effective`, which also says which 404.
   */
  heldEffectiveJson(namespace: string, environment: string, atLeast: AtLeast = NO_MINIMUM, baseAtLeast: AtLeast = NO_MINIMUM): string | undefined {
    const isBase = environment === BASE_ENVIRONMENT;
    const base = this.replica.get(namespace, BASE_ENVIRONMENT);
    if (base === undefined || base.version < (isBase ? higher(atLeast, baseAtLeast) : baseAtLeast).version) return undefined;
    const own = isBase ? base : this.replica.get(namespace, environment);
    if (own === undefined || own.version < atLeast.version) return undefined;
    const made = this.effectiveText.get(own);
    if (made !== undefined && made.base === base) return made.json;
    const document = effectiveDocument(environment, documentOf(base), isBase ? undefined : documentOf(own));
    if (document === undefined) return undefined;
    const effective: EffectiveConfig = { namespace, environment, document, baseVersion: base.version, version: own.version };
    const json = JSON.stringify(effective);
    this.effectiveText.set(own, { base, json });
    return json;
  }

  /** `atLeast` bounds the environment's own entry (the base's, for `base`), `baseAtLeast` the base entry's. */
  async effective(namespace: string, environment: string, atLeast: AtLeast = NO_MINIMUM, baseAtLeast: AtLeast = NO_MINIMUM): Promise<EffectiveConfig> {
    const isBase = environment === BASE_ENVIRONMENT;
    const [base, own] = await Promise.all([
      this.current(namespace, BASE_ENVIRONMENT, isBase ? higher(atLeast, baseAtLeast) : baseAtLeast),
      isBase ? Promise.resolve(undefined) : this.current(namespace, environment, atLeast),
    ]);
    const document = effectiveDocument(environment, base?.document, own?.document);
    if (document === undefined) {
      await this.requireNamespace(namespace);
      throw new NotFoundError("params.environment", `${namespace}/${environment} has no version yet, and neither has its base`);
    }
    return { namespace, environment, document, baseVersion: base?.version ?? 0, version: isBase ? (base?.version ?? 0) : (own?.version ?? 0) };
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
  private async changed(record: VersionRecord, identity: string | undefined, readUnder: ReadUnder): Promise<VersionRecord> {
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

const documentOf = (copy: HeldCopy): JsonObject | undefined => (copy.json === undefined ? undefined : (JSON.parse(copy.json) as VersionRecord).document);
