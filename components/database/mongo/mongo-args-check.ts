// Argument checks for the MongoDB component: every problem, one line each, before any resource exists.
import { MONGO_MIN_MEMORY_MIB } from "./mongod-conf";
import { mongoIndexName } from "./mongo-init-script";
import { pinnedImageProblem } from "../redis-mongo-pinned-image";
import { MONGO_BACKUP_USER } from "../backups/mongo-backup-script";

export interface MongoArgsToCheck {
  image: unknown;
  exporterImage: unknown;
  resources: { cpu: unknown; memoryMiB: unknown } | undefined;
  storageGiB: unknown;
  databases: unknown;
}

const KEY = "fundament:database.mongo";

/** Service names become MongoDB user names and file names; keep them plain. */
export const MONGO_SERVICE_NAME = /^[a-z][a-z0-9-]{0,62}$/;
/** MongoDB database names on Linux: no /\. "$ or spaces, under 64 bytes. Kept to a readable subset. */
export const MONGO_DATABASE_NAME = /^[a-zA-Z][a-zA-Z0-9_-]{0,62}$/;
const RESERVED_DATABASES = ["admin", "local", "config"];

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function indexProblems(at: string, indexes: unknown): string[] {
  if (!Array.isArray(indexes)) return [`${at}.indexes: must be a list (use [] for none) (got ${JSON.stringify(indexes)})`];
  const problems: string[] = [];
  const names = new Set<string>();
  indexes.forEach((index: unknown, i: number) => {
    const here = `${at}.indexes[${i}]`;
    if (!isRecord(index)) {
      problems.push(`${here}: must be an object with collection and keys (got ${JSON.stringify(index)})`);
      return;
    }
    const collection = index.collection;
    if (typeof collection !== "string" || collection === "" || collection.includes("$") || collection.startsWith("system.")) {
      problems.push(`${here}.collection: must be a non-empty name without "$", not in the system. namespace (got ${JSON.stringify(collection)})`);
    }
    const keys = index.keys;
    if (!isRecord(keys) || Object.keys(keys).length === 0) {
      problems.push(`${here}.keys: must map at least one field to 1 or -1 (got ${JSON.stringify(keys)})`);
      return;
    }
    for (const [field, direction] of Object.entries(keys)) {
      if (field === "" || field.startsWith("$")) problems.push(`${here}.keys: field ${JSON.stringify(field)} must be non-empty and not start with "$"`);
      if (direction !== 1 && direction !== -1) problems.push(`${here}.keys.${field}: must be 1 or -1 (got ${JSON.stringify(direction)})`);
    }
    if (index.unique !== undefined && typeof index.unique !== "boolean") problems.push(`${here}.unique: must be true or false (got ${JSON.stringify(index.unique)})`);
    if (index.name !== undefined && (typeof index.name !== "string" || index.name === "")) {
      problems.push(`${here}.name: must be a non-empty string when given (got ${JSON.stringify(index.name)})`);
    }
    const name = `${String(collection)}.${mongoIndexName({ collection: String(collection), keys: keys as Record<string, 1 | -1>, name: index.name as string | undefined })}`;
    if (names.has(name)) problems.push(`${here}: index ${name} is declared twice`);
    names.add(name);
  });
  return problems;
}

export function mongoArgsProblems(args: MongoArgsToCheck): string[] {
  const problems: string[] = [];
  for (const field of ["image", "exporterImage"] as const) {
    const problem = pinnedImageProblem(args[field]);
    if (problem) problems.push(`${KEY}.${field}: ${problem}`);
  }
  const cpu = args.resources?.cpu;
  if (typeof cpu !== "number" || !(cpu > 0)) problems.push(`${KEY}.resources.cpu: must be a number above 0 (got ${String(cpu)})`);
  const memory = args.resources?.memoryMiB;
  if (typeof memory !== "number" || !Number.isInteger(memory) || memory < MONGO_MIN_MEMORY_MIB) {
    problems.push(`${KEY}.resources.memoryMiB: must be an integer of at least ${MONGO_MIN_MEMORY_MIB}, WiredTiger's cache floor is 256 MiB (got ${String(memory)})`);
  }
  if (typeof args.storageGiB !== "number" || !Number.isInteger(args.storageGiB) || args.storageGiB < 1) {
    problems.push(`${KEY}.storageGiB: must be a whole number of GiB, at least 1 (got ${String(args.storageGiB)})`);
  }
  if (!Array.isArray(args.databases) || args.databases.length === 0) {
    problems.push(`${KEY}.databases: must list at least one service database (got ${JSON.stringify(args.databases)})`);
    return problems;
  }
  const services = new Set<unknown>();
  const databases = new Set<unknown>();
  args.databases.forEach((entry: unknown, i: number) => {
    const at = `${KEY}.databases[${i}]`;
    if (!isRecord(entry)) {
      problems.push(`${at}: must be an object with service, database and indexes (got ${JSON.stringify(entry)})`);
      return;
    }
    if (typeof entry.service !== "string" || !MONGO_SERVICE_NAME.test(entry.service)) {
      problems.push(`${at}.service: must be a lower-case name matching ${MONGO_SERVICE_NAME}, it becomes the MongoDB user (got ${JSON.stringify(entry.service)})`);
    } else if (entry.service === MONGO_BACKUP_USER) {
      problems.push(`${at}.service: ${JSON.stringify(entry.service)} is the platform's backup user; give the service another name`);
    } else if (services.has(entry.service)) {
      problems.push(`${at}.service: ${JSON.stringify(entry.service)} is listed twice; one database per service`);
    }
    services.add(entry.service);
    if (typeof entry.database !== "string" || !MONGO_DATABASE_NAME.test(entry.database)) {
      problems.push(`${at}.database: must match ${MONGO_DATABASE_NAME} (got ${JSON.stringify(entry.database)})`);
    } else if (RESERVED_DATABASES.includes(entry.database)) {
      problems.push(`${at}.database: "${entry.database}" is MongoDB's own database; give the service its own`);
    } else if (databases.has(entry.database)) {
      problems.push(`${at}.database: ${JSON.stringify(entry.database)} already belongs to another service`);
    }
    databases.add(entry.database);
    problems.push(...indexProblems(at, entry.indexes));
  });
  return problems;
}
