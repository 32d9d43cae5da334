import type { Pool, PoolClient } from "pg";
import { InvalidSchemaError, isBusyDatabaseError, LocatedViolation, NamespaceBusyError, NotFoundError, PreconditionFailedError, SchemaViolationError } from "./config-errors";
import { diffJson, JsonObject, JsonValue, PatchOperation } from "./json-patch";
import { BASE_ENVIRONMENT, effectiveDocument } from "./overlay";
import { NamespaceSchema } from "./schema-validation";

/** Channel the writer NOTIFYs on commit; every replica LISTENs so its watchers wake. */
export const CHANGE_CHANNEL = "config_changed";

export interface ChangeEvent {
  namespace: string;
  environment: string;
  version: number;
}

export interface VersionRecord {
  namespace: string;
  environment: string;
  version: number;
  document: JsonObject;
  patch: PatchOperation[];
  actor: string;
  reason: string;
  restoredFrom: number | null;
  createdAt: string;
}

export interface NamespaceRecord {
  name: string;
  schema: JsonObject;
  schemaVersion: number;
  createdAt: string;
  updatedAt: string;
  updatedBy: string;
}

export interface WriteRequest {
  namespace: string;
  environment: string;
  document: JsonObject;
  actor: string;
  reason: string;
  /** The version the writer last read (0: the entry must not exist yet); omitted: last write wins. */
  ifMatch?: number;
}

export interface RollbackRequest extends Omit<WriteRequest, "document"> {
  toVersion: number;
}

interface VersionRow {
  namespace: string;
  environment: string;
  version: number;
  document: JsonObject;
  patch: PatchOperation[];
  actor: string;
  reason: string;
  restored_from: number | null;
  created_at: Date;
}

interface NamespaceRow {
  name: string;
  schema: JsonObject;
  schema_version: number;
  created_at: Date;
  updated_at: Date;
  updated_by: string;
}

const VERSION_COLUMNS = "v.namespace, v.environment, v.version, v.document, v.patch, v.actor, v.reason, v.restored_from, v.created_at";

function toVersion(row: VersionRow): VersionRecord {
  return {
    namespace: row.namespace,
    environment: row.environment,
    version: row.version,
    document: row.document,
    patch: row.patch,
    actor: row.actor,
    reason: row.reason,
    restoredFrom: row.restored_from,
    createdAt: row.created_at.toISOString(),
  };
}

function toNamespace(row: NamespaceRow): NamespaceRecord {
  return {
    name: row.name,
    schema: row.schema,
    schemaVersion: row.schema_version,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
    updatedBy: row.updated_by,
  };
}

/** Compiled validators, keyed by namespace and schema version, so a write does not recompile. */
class SchemaCache {
  private readonly compiled = new Map<string, NamespaceSchema>();
  constructor(private readonly capacity = 256) {}

  get(namespace: string, schemaVersion: number, schema: JsonObject): NamespaceSchema {
    const key = `${namespace}\u0000${schemaVersion}`;
    const hit = this.compiled.get(key);
    if (hit) return hit;
    const fresh = NamespaceSchema.compile(schema);
    if (this.compiled.size >= this.capacity) this.compiled.delete(this.compiled.keys().next().value as string);
    this.compiled.set(key, fresh);
    return fresh;
  }
}

/** Versioned configuration entries in PostgreSQL: the source of truth every replica shares. */
export class VersionStore {
  private readonly schemas = new SchemaCache();

  constructor(private readonly pool: Pool) {}

  async namespace(name: string): Promise<NamespaceRecord | undefined> {
    const { rows } = await this.pool.query<NamespaceRow>("SELECT * FROM config_namespaces WHERE name = $1", [name]);
    return rows[0] ? toNamespace(rows[0]) : undefined;
  }

  async namespaceNames(): Promise<string[]> {
    const { rows } = await this.pool.query<{ name: string }>("SELECT name FROM config_namespaces ORDER BY name");
    return rows.map((row) => row.name);
  }

  /**
   * Creates or replaces a namespace's schema. A new schema that the current entries would break
   * is refused, naming the environment and path, so a schema change never strands live config.
   */
  async putNamespace(name: string, schema: JsonObject, actor: string): Promise<{ namespace: NamespaceRecord; created: boolean }> {
    let compiled: NamespaceSchema;
    try {
      compiled = NamespaceSchema.compile(schema);
    } catch (error) {
      throw new InvalidSchemaError((error as Error).message);
    }
    return this.busyAware(name, this.transaction(async (client) => {
      const existing = await client.query<NamespaceRow>("SELECT * FROM config_namespaces WHERE name = $1 FOR UPDATE", [name]);
      if (existing.rows[0]) {
        const documents = await this.currentDocuments(client, name);
        const violations = this.effectiveViolations(compiled, documents);
        if (violations.length > 0) throw new SchemaViolationError("body.schema", violations);
        const { rows } = await client.query<NamespaceRow>(
          `UPDATE config_namespaces SET schema = $2, schema_version = schema_version + 1, updated_at = now(), updated_by = $3
           WHERE name = $1 RETURNING *`,
          [name, JSON.stringify(schema), actor],
        );
        return { namespace: toNamespace(rows[0] as NamespaceRow), created: false };
      }
      const { rows } = await client.query<NamespaceRow>(
        "INSERT INTO config_namespaces (name, schema, updated_by) VALUES ($1, $2, $3) RETURNING *",
        [name, JSON.stringify(schema), actor],
      );
      return { namespace: toNamespace(rows[0] as NamespaceRow), created: true };
    }));
  }

  async current(namespace: string, environment: string): Promise<VersionRecord | undefined> {
    const { rows } = await this.pool.query<VersionRow>(
      `SELECT ${VERSION_COLUMNS} FROM config_entries e
       JOIN config_versions v ON v.namespace = e.namespace AND v.environment = e.environment AND v.version = e.current_version
       WHERE e.namespace = $1 AND e.environment = $2`,
      [namespace, environment],
    );
    return rows[0] ? toVersion(rows[0]) : undefined;
  }

  /** The entry's current version number; 0 when it was never written. */
  async currentVersion(namespace: string, environment: string): Promise<number> {
    const { rows } = await this.pool.query<{ current_version: number }>(
      "SELECT current_version FROM config_entries WHERE namespace = $1 AND environment = $2",
      [namespace, environment],
    );
    return rows[0]?.current_version ?? 0;
  }

  async version(namespace: string, environment: string, version: number): Promise<VersionRecord | undefined> {
    const { rows } = await this.pool.query<VersionRow>(
      `SELECT ${VERSION_COLUMNS} FROM config_versions v WHERE v.namespace = $1 AND v.environment = $2 AND v.version = $3`,
      [namespace, environment, version],
    );
    return rows[0] ? toVersion(rows[0]) : undefined;
  }

  /** Versions newer than `after`, oldest first: what a watcher resuming from `after` has missed. */
  async versionsAfter(namespace: string, environment: string, after: number, limit: number): Promise<VersionRecord[]> {
    const { rows } = await this.pool.query<VersionRow>(
      `SELECT ${VERSION_COLUMNS} FROM config_versions v
       WHERE v.namespace = $1 AND v.environment = $2 AND v.version > $3 ORDER BY v.version LIMIT $4`,
      [namespace, environment, after, limit],
    );
    return rows.map(toVersion);
  }

  async write(request: WriteRequest): Promise<VersionRecord> {
    return this.busyAware(request.namespace, this.transaction((client) => this.writeIn(client, request, null)));
  }

  /** Restores an earlier version's document as a new version; history is never rewritten. */
  async rollback(request: RollbackRequest): Promise<VersionRecord> {
    return this.busyAware(request.namespace, this.rollbackIn(request));
  }

  private rollbackIn(request: RollbackRequest): Promise<VersionRecord> {
    return this.transaction(async (client) => {
      const { rows } = await client.query<{ document: JsonObject }>(
        "SELECT document FROM config_versions WHERE namespace = $1 AND environment = $2 AND version = $3",
        [request.namespace, request.environment, request.toVersion],
      );
      const target = rows[0];
      if (!target) {
        throw new NotFoundError("body.toVersion", `version ${request.toVersion} of ${request.namespace}/${request.environment} does not exist`);
      }
      return this.writeIn(client, { ...request, document: target.document }, request.toVersion);
    });
  }

  private async writeIn(client: PoolClient, request: WriteRequest, restoredFrom: number | null): Promise<VersionRecord> {
    const { namespace, environment } = request;
    // Locking the namespace row serialises every write to it: a base write and an overlay
    // write checked against each other's old state could otherwise commit an invalid pair.
    const ns = await client.query<NamespaceRow>("SELECT * FROM config_namespaces WHERE name = $1 FOR UPDATE", [namespace]);
    const nsRow = ns.rows[0];
    if (!nsRow) throw new NotFoundError("params.namespace", `namespace ${namespace} does not exist`);
    await client.query("INSERT INTO config_entries (namespace, environment) VALUES ($1, $2) ON CONFLICT DO NOTHING", [namespace, environment]);
    const head = await client.query<{ current_version: number }>(
      "SELECT current_version FROM config_entries WHERE namespace = $1 AND environment = $2 FOR UPDATE",
      [namespace, environment],
    );
    const current = head.rows[0]?.current_version ?? 0;
    if (request.ifMatch !== undefined && request.ifMatch !== current) throw new PreconditionFailedError(request.ifMatch, current);

    const documents = await this.currentDocuments(client, namespace);
    const previous = documents.get(environment) ?? {};
    documents.set(environment, request.document);
    const schema = this.schemas.get(namespace, nsRow.schema_version, nsRow.schema);
    const affected = environment === BASE_ENVIRONMENT ? undefined : [environment];
    const violations = this.effectiveViolations(schema, documents, affected);
    if (violations.length > 0) throw new SchemaViolationError(restoredFrom === null ? "body.document" : "body.toVersion", violations);

    const version = current + 1;
    const { rows } = await client.query<VersionRow>(
      `INSERT INTO config_versions AS v (namespace, environment, version, document, patch, actor, reason, restored_from)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ${VERSION_COLUMNS}`,
      [
        namespace,
        environment,
        version,
        JSON.stringify(request.document),
        JSON.stringify(diffJson(previous, request.document)),
        request.actor,
        request.reason,
        restoredFrom,
      ],
    );
    await client.query("UPDATE config_entries SET current_version = $3 WHERE namespace = $1 AND environment = $2", [namespace, environment, version]);
    await client.query("INSERT INTO config_outbox (namespace, environment, version) VALUES ($1, $2, $3)", [namespace, environment, version]);
    const event: ChangeEvent = { namespace, environment, version };
    // NOTIFY is delivered at commit and dropped on rollback, exactly like the row itself.
    await client.query("SELECT pg_notify($1, $2)", [CHANGE_CHANNEL, JSON.stringify(event)]);
    return toVersion(rows[0] as VersionRow);
  }

  private async currentDocuments(client: PoolClient, namespace: string): Promise<Map<string, JsonObject>> {
    const { rows } = await client.query<{ environment: string; document: JsonObject }>(
      `SELECT e.environment, v.document FROM config_entries e
       JOIN config_versions v ON v.namespace = e.namespace AND v.environment = e.environment AND v.version = e.current_version
       WHERE e.namespace = $1`,
      [namespace],
    );
    return new Map(rows.map((row) => [row.environment, row.document]));
  }

  /**
   * The schema applies to what consumers read: the base on its own and each environment's
   * overlay merged onto it. `only` limits the check to the environments a write touched.
   */
  private effectiveViolations(schema: NamespaceSchema, documents: Map<string, JsonObject>, only?: string[]): LocatedViolation[] {
    const base = documents.get(BASE_ENVIRONMENT);
    const environments = only ?? [...documents.keys()];
    const violations: LocatedViolation[] = [];
    for (const environment of environments) {
      const effective = effectiveDocument(environment, base, documents.get(environment));
      if (effective === undefined) continue;
      const result = schema.check(effective);
      if (!result.valid) violations.push(...result.violations.map((v) => ({ ...v, environment })));
    }
    return violations;
  }

  /** A timed-out wait for the namespace lock is the caller's cue to retry, not a server fault. */
  private async busyAware<T>(namespace: string, work: Promise<T>): Promise<T> {
    try {
      return await work;
    } catch (error) {
      if (isBusyDatabaseError(error)) throw new NamespaceBusyError(namespace);
      throw error;
    }
  }

  private async transaction<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    // A connection that cannot even roll back is broken; the pool must not hand it out again.
    let broken: Error | undefined;
    // A checked-out client has no pool listener: an 'error' between two queries would be uncaught.
    const onError = (error: Error) => {
      broken = error;
    };
    client.on("error", onError);
    try {
      await client.query("BEGIN");
      const result = await work(client);
      await client.query("COMMIT");
      return result;
    } catch (error) {
      await client.query("ROLLBACK").catch((rollbackError: Error) => {
        broken = rollbackError;
      });
      throw error;
    } finally {
      client.off("error", onError);
      client.release(broken);
    }
  }
}

export function isChangeEvent(value: JsonValue): value is JsonObject & { namespace: string; environment: string; version: number } {
  return (
    typeof value === "object" &&
    value !== null &&
    !Array.isArray(value) &&
    typeof value.namespace === "string" &&
    typeof value.environment === "string" &&
    typeof value.version === "number"
  );
}
