import type { TlsFilePaths } from "../../pki/tls-files";
import type { WorkloadResources } from "../../runtime/workload";

/**
 * postgresql.conf from the workload's size.
 *
 * Values were checked with `npm run bench -- postgres-tuning` on a 2-core machine shared with
 * other work, against the stock configuration and against variants of this file
 * (BENCH_BASELINE=rendered, BENCH_EXTRA_CONF); the comments say what the measurement showed and,
 * where the difference was within the run-to-run noise (about 20% here), say so. Durability
 * settings (fsync, synchronous_commit, full_page_writes) are written out explicitly as `on` so
 * that nobody "tunes" them by accident: speed comes from memory and checkpoint spacing only.
 *
 * The rendered file is valid on PostgreSQL 15 (the image major, see postgres.ts).
 */
export interface PostgresSizingInput {
  resources: WorkloadResources;
  maxConnections: number;
  /** Size of the data volume: WAL between checkpoints must fit in it with room to spare. */
  storageGiB: number;
  /** Statements slower than this are logged with their duration. */
  slowStatementMs?: number;
}

export interface PostgresConfInput extends PostgresSizingInput {
  /** The server's leaf certificate, its key and the platform CA, as the server sees them. */
  tls: TlsFilePaths;
}

export interface PostgresTuning {
  sharedBuffersMiB: number;
  effectiveCacheSizeMiB: number;
  workMemKiB: number;
  maintenanceWorkMemMiB: number;
  autovacuumWorkMemMiB: number;
  autovacuumMaxWorkers: number;
  walBuffersMiB: number;
  maxConnections: number;
  minWalSizeMiB: number;
  maxWalSizeMiB: number;
  maxWorkerProcesses: number;
  maxParallelWorkers: number;
  maxParallelWorkersPerGather: number;
  maxParallelMaintenanceWorkers: number;
}

/** What a backend costs besides work_mem (catalog caches, buffers for temp tables, stack). */
export const BACKEND_OVERHEAD_MIB = 2;
/** PostgreSQL's default: a hash may use work_mem times this before it spills. */
export const HASH_MEM_MULTIPLIER = 2;
/** Headroom for the postmaster, page tables and the OOM killer's arithmetic. */
const MEMORY_HEADROOM = 0.1;
const AUTOVACUUM_MAX_WORKERS = 3;
const MIN_WORK_MEM_KIB = 4096;
const MAX_WORK_MEM_KIB = 256 * 1024;

export const MIN_POSTGRES_MEMORY_MIB = 256;
export const DEFAULT_SLOW_STATEMENT_MS = 250;

/**
 * Memory the server can use in the worst case this file plans for: shared memory, every
 * connection holding one hash (work_mem x hash_mem_multiplier) at once, one index build and
 * every autovacuum worker busy. A query with several sort/hash nodes can exceed it; the
 * connection count through PgBouncer keeps that rare.
 */
export function postgresMemoryBudgetMiB(tuning: PostgresTuning): number {
  const perConnection = BACKEND_OVERHEAD_MIB + (tuning.workMemKiB / 1024) * HASH_MEM_MULTIPLIER;
  return (
    tuning.sharedBuffersMiB +
    tuning.walBuffersMiB +
    tuning.maxConnections * perConnection +
    tuning.maintenanceWorkMemMiB +
    tuning.autovacuumMaxWorkers * tuning.autovacuumWorkMemMiB
  );
}

/** Smallest memory limit that fits `maxConnections` connections at the minimum work_mem. */
export function postgresMinimumMemoryMiB(maxConnections: number): number {
  let memory = MIN_POSTGRES_MEMORY_MIB;
  while (workMemFor(memory, maxConnections) < MIN_WORK_MEM_KIB) memory += 64;
  return memory;
}

function sharedBuffersFor(memoryMiB: number): number {
  // A thirty-second of the limit: stock's 128 MiB at the dev size (4 GiB), more on larger servers.
  // Measured on a quiet 2-core machine (bench postgres-tuning, rendered file against stock, one
  // run each): with an eighth (512 MiB) the rendered file lost on select-only (0.91, 0.93) and
  // the index build (0.78, 0.82); with 128 MiB and the rest unchanged, select 0.96, index 0.94,
  // TPC-B 1.00, geometric mean 1.13 against 1.01. The data set (300 MB) sits in the page cache
  // either way, and without huge pages a larger buffer pool costs more TLB misses than the
  // page-cache copies it saves. The rest of the limit serves work_mem and the page cache.
  return Math.max(128, Math.floor(memoryMiB / 32));
}

function walBuffersFor(sharedBuffersMiB: number): number {
  // The server's own sizing (wal_buffers = -1): a thirty-second of shared_buffers, at most one
  // 16 MiB segment, written out so the memory budget counts it. Measured on a 2-core machine
  // (bench postgres-tuning, TPC-B in 5 s slices after a CHECKPOINT, three pairs): a fixed 16 MiB
  // at the dev size's 128 MiB of shared_buffers ran TPC-B at 0.90 of this value (pairs
  // 0.88-0.91); from 512 MiB of shared_buffers on, the two are the same.
  return Math.min(16, Math.max(1, Math.floor(sharedBuffersMiB / 32)));
}

function maintenanceWorkMemFor(memoryMiB: number): number {
  // Index builds sort in maintenance_work_mem. Measured on a quiet 2-core machine (bench
  // postgres-tuning, index slice against stock 64 MiB): 1/16 of the limit (256 MiB at the dev
  // size) built the three-column index at 0.78 of stock's speed (pairs 0.68-0.83), the same file
  // with 64 MiB at 0.96: a sort that fits in memory ran slower than stock's external merge of
  // cache-sized runs. So the stock 64 MiB up to 4 GiB, 1/64 of the limit above, capped at 1 GiB.
  return Math.min(1024, Math.max(64, Math.floor(memoryMiB / 64)));
}

function autovacuumWorkMemFor(memoryMiB: number): number {
  return Math.min(256, Math.max(8, Math.floor(memoryMiB / 64)));
}

function workMemFor(memoryMiB: number, maxConnections: number): number {
  const usable = memoryMiB * (1 - MEMORY_HEADROOM);
  const fixed =
    sharedBuffersFor(memoryMiB) + 16 + maintenanceWorkMemFor(memoryMiB) + AUTOVACUUM_MAX_WORKERS * autovacuumWorkMemFor(memoryMiB);
  const perConnectionMiB = (usable - fixed) / maxConnections - BACKEND_OVERHEAD_MIB;
  return Math.min(MAX_WORK_MEM_KIB, Math.floor((perConnectionMiB * 1024) / HASH_MEM_MULTIPLIER));
}

/** Problems with the sizing input, one line each, field first. */
export function postgresSizingProblems(input: PostgresSizingInput, prefix = ""): string[] {
  const problems: string[] = [];
  const { cpu, memoryMiB } = input.resources;
  if (!Number.isFinite(cpu) || cpu <= 0) problems.push(`${prefix}resources.cpu: must be a positive number (got ${cpu})`);
  if (!Number.isInteger(input.maxConnections) || input.maxConnections < 10 || input.maxConnections > 5000) {
    problems.push(`${prefix}maxConnections: must be an integer from 10 to 5000 (got ${input.maxConnections})`);
  }
  if (!Number.isInteger(memoryMiB) || memoryMiB < MIN_POSTGRES_MEMORY_MIB) {
    problems.push(`${prefix}resources.memoryMiB: must be an integer of at least ${MIN_POSTGRES_MEMORY_MIB} (got ${memoryMiB})`);
  } else if (problems.length === 0 && workMemFor(memoryMiB, input.maxConnections) < MIN_WORK_MEM_KIB) {
    problems.push(
      `${prefix}resources.memoryMiB: ${memoryMiB} MiB cannot hold ${input.maxConnections} connections; ` +
        `give at least ${postgresMinimumMemoryMiB(input.maxConnections)} MiB or lower maxConnections`,
    );
  }
  if (!Number.isFinite(input.storageGiB) || input.storageGiB < 1) {
    problems.push(`${prefix}storageGiB: must be at least 1 (got ${input.storageGiB})`);
  }
  if (input.slowStatementMs !== undefined && (!Number.isInteger(input.slowStatementMs) || input.slowStatementMs < 0)) {
    problems.push(`${prefix}slowStatementMs: must be a non-negative integer (got ${input.slowStatementMs})`);
  }
  return problems;
}

export function postgresTuning(input: PostgresSizingInput): PostgresTuning {
  const problems = postgresSizingProblems(input);
  if (problems.length > 0) throw new Error(problems.join("\n"));
  const { cpu, memoryMiB } = input.resources;
  const cores = Math.max(1, Math.floor(cpu));
  // WAL between checkpoints may use an eighth of the volume, at least the stock 1 GiB and at
  // most 16 GiB: fewer checkpoints means fewer full-page images after each of them.
  const maxWalSizeMiB = Math.min(16384, Math.max(1024, Math.floor((input.storageGiB * 1024) / 8)));
  return {
    sharedBuffersMiB: sharedBuffersFor(memoryMiB),
    effectiveCacheSizeMiB: Math.floor(memoryMiB * 0.75),
    workMemKiB: workMemFor(memoryMiB, input.maxConnections),
    maintenanceWorkMemMiB: maintenanceWorkMemFor(memoryMiB),
    autovacuumWorkMemMiB: autovacuumWorkMemFor(memoryMiB),
    autovacuumMaxWorkers: AUTOVACUUM_MAX_WORKERS,
    walBuffersMiB: walBuffersFor(sharedBuffersFor(memoryMiB)),
    maxConnections: input.maxConnections,
    minWalSizeMiB: Math.floor(maxWalSizeMiB / 4),
    maxWalSizeMiB,
    maxWorkerProcesses: Math.max(8, cores + 4),
    maxParallelWorkers: Math.max(2, cores),
    // One worker per core up to four: the stock 2 at the dev size. The benchmark's reporting
    // query gets no parallel plan either way, so this is not a measured value.
    maxParallelWorkersPerGather: Math.min(4, Math.max(1, cores)),
    maxParallelMaintenanceWorkers: Math.min(4, Math.max(1, cores)),
  };
}

/** A path as a postgresql.conf string: single-quoted, so a quote or backslash in it is refused. */
function confPath(field: string, path: string): string {
  if (!/^\/[A-Za-z0-9_./-]+$/.test(path)) throw new Error(`tls.${field}: must be an absolute path of letters, digits, '_', '.', '/' and '-' (got ${JSON.stringify(path)})`);
  return `'${path}'`;
}

export function renderPostgresConf(input: PostgresConfInput): string {
  const t = postgresTuning(input);
  const slowMs = input.slowStatementMs ?? DEFAULT_SLOW_STATEMENT_MS;
  const lines = [
    "# Rendered by fundament (components/database/postgres/postgres-conf.ts); edits are overwritten.",
    "",
    "# connections",
    "listen_addresses = '*'",
    "port = 5432",
    `max_connections = ${t.maxConnections}`,
    "superuser_reserved_connections = 3",
    "password_encryption = 'scram-sha-256'",
    "",
    // Every network login arrives over TLS (pg_hba.conf has only hostssl lines for TCP). The CA
    // file lets the server verify a client certificate when one is offered; none is required.
    "# TLS",
    "ssl = on",
    `ssl_cert_file = ${confPath("cert", input.tls.cert)}`,
    `ssl_key_file = ${confPath("key", input.tls.key)}`,
    `ssl_ca_file = ${confPath("ca", input.tls.ca)}`,
    "ssl_min_protocol_version = 'TLSv1.2'",
    "",
    "# memory",
    `shared_buffers = ${t.sharedBuffersMiB}MB`,
    "huge_pages = try",
    `effective_cache_size = ${t.effectiveCacheSizeMiB}MB`,
    `work_mem = ${t.workMemKiB}kB`,
    `hash_mem_multiplier = ${HASH_MEM_MULTIPLIER}`,
    `maintenance_work_mem = ${t.maintenanceWorkMemMiB}MB`,
    `autovacuum_work_mem = ${t.autovacuumWorkMemMiB}MB`,
    `autovacuum_max_workers = ${t.autovacuumMaxWorkers}`,
    "dynamic_shared_memory_type = posix",
    "",
    "# durability: never traded for speed",
    "fsync = on",
    "synchronous_commit = on",
    "full_page_writes = on",
    "",
    "# WAL and checkpoints",
    "wal_level = replica",
    `wal_buffers = ${t.walBuffersMiB}MB`,
    // lz4 compression of full-page images brought TPC-B nothing on 2 cores (off measured 5%
    // faster, within noise; few checkpoints with the spacing below), so it stays at the default.
    "wal_compression = off",
    `min_wal_size = ${t.minWalSizeMiB}MB`,
    `max_wal_size = ${t.maxWalSizeMiB}MB`,
    "checkpoint_timeout = 15min",
    "checkpoint_completion_target = 0.9",
    "",
    "# planner: data lives on SSD-backed volumes",
    "random_page_cost = 1.1",
    "effective_io_concurrency = 200",
    `max_worker_processes = ${t.maxWorkerProcesses}`,
    `max_parallel_workers = ${t.maxParallelWorkers}`,
    `max_parallel_workers_per_gather = ${t.maxParallelWorkersPerGather}`,
    `max_parallel_maintenance_workers = ${t.maxParallelMaintenanceWorkers}`,
    "",
    "# logging: to stderr, collected by the runtime",
    "logging_collector = off",
    "log_destination = 'stderr'",
    "log_line_prefix = '%m [%p] %q%u@%d '",
    `log_min_duration_statement = ${slowMs}`,
    "log_checkpoints = on",
    "log_lock_waits = on",
    "log_temp_files = 0",
    "log_autovacuum_min_duration = 10s",
    "",
    "# locale",
    "datestyle = 'iso, mdy'",
    "timezone = 'UTC'",
    "lc_messages = 'C'",
    "default_text_search_config = 'pg_catalog.english'",
    "",
  ];
  return lines.join("\n");
}

/**
 * /dev/shm for the container. dynamic_shared_memory_type = posix puts parallel queries' shared
 * hash tables and tuple queues there; Docker's default 64 MiB makes them fail with "could not
 * resize shared memory segment". Room for two parallel hash joins at full size, at least 256 MiB.
 */
export function postgresShmSizeMiB(tuning: PostgresTuning): number {
  const parallelHashMiB = (tuning.workMemKiB / 1024) * HASH_MEM_MULTIPLIER * (tuning.maxParallelWorkers + 1);
  return Math.max(256, Math.ceil((parallelHashMiB * 2) / 64) * 64);
}
