// Argument checks for the Redis component: every problem, one line each, before any resource exists.
import { EVICTION_POLICIES, REDIS_MIN_MEMORY_MIB } from "./redis-conf";
import { REDIS_RESERVED_USERS, REDIS_USER_NAME } from "./redis-acl";
import { pinnedImageProblem } from "../redis-mongo-pinned-image";

export interface RedisArgsToCheck {
  image: unknown;
  exporterImage: unknown;
  resources: { cpu: unknown; memoryMiB: unknown } | undefined;
  storageGiB: unknown;
  evictionPolicy: unknown;
  services: unknown;
}

const KEY = "fundament:database.redis";

export function redisArgsProblems(args: RedisArgsToCheck): string[] {
  const problems: string[] = [];
  for (const field of ["image", "exporterImage"] as const) {
    const problem = pinnedImageProblem(args[field]);
    if (problem) problems.push(`${KEY}.${field}: ${problem}`);
  }
  const cpu = args.resources?.cpu;
  if (typeof cpu !== "number" || !(cpu > 0)) problems.push(`${KEY}.resources.cpu: must be a number above 0 (got ${String(cpu)})`);
  const memory = args.resources?.memoryMiB;
  if (typeof memory !== "number" || !Number.isInteger(memory) || memory < REDIS_MIN_MEMORY_MIB) {
    problems.push(
      `${KEY}.resources.memoryMiB: must be an integer of at least ${REDIS_MIN_MEMORY_MIB}, half of it is kept free for fork copy-on-write (got ${String(memory)})`,
    );
  }
  if (typeof args.storageGiB !== "number" || !Number.isInteger(args.storageGiB) || args.storageGiB < 1) {
    problems.push(`${KEY}.storageGiB: must be a whole number of GiB, at least 1 (got ${String(args.storageGiB)})`);
  }
  if (!EVICTION_POLICIES.includes(args.evictionPolicy as never)) {
    problems.push(`${KEY}.evictionPolicy: must be one of ${EVICTION_POLICIES.join(", ")} (got ${JSON.stringify(args.evictionPolicy)})`);
  }
  if (!Array.isArray(args.services) || args.services.length === 0) {
    problems.push(`${KEY}.services: must list at least one consuming service (got ${JSON.stringify(args.services)})`);
  } else {
    const seen = new Set<unknown>();
    args.services.forEach((service: unknown, index: number) => {
      const at = `${KEY}.services[${index}]`;
      if (typeof service !== "string" || !REDIS_USER_NAME.test(service)) {
        problems.push(`${at}: must be a lower-case name matching ${REDIS_USER_NAME}, it becomes the Redis user (got ${JSON.stringify(service)})`);
      } else if (REDIS_RESERVED_USERS.includes(service)) {
        problems.push(`${at}: "${service}" is reserved for the platform's own Redis users`);
      }
      if (seen.has(service)) problems.push(`${at}: ${JSON.stringify(service)} is listed twice`);
      seen.add(service);
    });
  }
  return problems;
}
