/** One database and one least-privilege role per consuming service. */
export interface ServiceDatabase {
  service: string;
  database: string;
}

/** Reads server statistics for the exporter (member of pg_monitor); nothing else. */
export const MONITOR_ROLE = "fundament_monitor";
/** Dumps every database (member of pg_read_all_data) and records the last success. */
export const BACKUP_ROLE = "fundament_backup";
/** Where the backup job records its last success; read by the exporter's custom query. */
export const BACKUP_STATUS_TABLE = "fundament.backup_status";

const IDENTIFIER = /^[a-z][a-z0-9_]{0,62}$/;
const SERVICE = /^[a-z][a-z0-9-]{0,62}$/;
const RESERVED_DATABASES = new Set(["postgres", "template0", "template1", "pgbouncer"]);

/** Services are named with hyphens (gpu-jobs); roles get underscores so they need no quoting anywhere. */
export function serviceRoleName(service: string): string {
  return service.replace(/-/g, "_");
}

/** Problems with the list, one line each, field first; empty when valid. */
export function serviceDatabaseProblems(databases: ServiceDatabase[], prefix = "databases"): string[] {
  const problems: string[] = [];
  const seenServices = new Map<string, number>();
  const seenDatabases = new Map<string, number>();
  databases.forEach((entry, index) => {
    const at = `${prefix}[${index}]`;
    if (!SERVICE.test(entry.service)) {
      problems.push(`${at}.service: must be lower-case letters, digits and hyphens, starting with a letter, at most 63 characters (got ${JSON.stringify(entry.service)})`);
    } else {
      const role = serviceRoleName(entry.service);
      if (role.startsWith("fundament_") || role.startsWith("pg_") || role === "postgres") {
        problems.push(`${at}.service: ${JSON.stringify(entry.service)} is reserved for the platform's own roles`);
      }
      const previous = seenServices.get(role);
      if (previous !== undefined) problems.push(`${at}.service: ${JSON.stringify(entry.service)} is already used by ${prefix}[${previous}]`);
      seenServices.set(role, index);
    }
    if (!IDENTIFIER.test(entry.database)) {
      problems.push(`${at}.database: must be lower-case letters, digits and underscores, starting with a letter, at most 63 characters (got ${JSON.stringify(entry.database)})`);
    } else if (RESERVED_DATABASES.has(entry.database)) {
      problems.push(`${at}.database: ${JSON.stringify(entry.database)} is reserved`);
    } else {
      const previous = seenDatabases.get(entry.database);
      if (previous !== undefined) problems.push(`${at}.database: ${JSON.stringify(entry.database)} is already used by ${prefix}[${previous}]; each service gets its own database`);
      seenDatabases.set(entry.database, index);
    }
  });
  return problems;
}
