import { PostgresBackup } from "../database/backups/postgres-backup";
import { BackupUpload, PostgresBackupUpload, PostgresBackupUploadArgs } from "../database/backups/backup-upload";
import { Mongo, MongoServiceDatabase } from "../database/mongo/mongo";
import { MongoBackup } from "../database/backups/mongo-backup";
import { PgBouncer } from "../database/postgres/pgbouncer";
import { Postgres } from "../database/postgres/postgres";
import { Redis } from "../database/redis/redis";
import { RedisBackup } from "../database/backups/redis-backup";
import type { PlatformPki } from "../pki";
import { Runtime } from "../runtime/workload";
import { ObjectStorage } from "../storage";
import { childOf, consumersOf, LayerScope, sizeOf } from "./layer-scope";

/** The database servers a service consumes, each with its backup job and the job's upload. */
export interface DatabaseLayer {
  postgres?: Postgres;
  pgbouncer?: PgBouncer;
  backup?: PostgresBackup;
  backupUpload?: PostgresBackupUpload;
  redis?: Redis;
  redisBackup?: RedisBackup;
  mongo?: Mongo;
  mongoBackup?: MongoBackup;
}

interface DatabaseInputs {
  runtime: Runtime;
  pki: PlatformPki;
  storage: ObjectStorage;
}

/** A data server is deployed when something consumes it. */
export function wireDatabases(scope: LayerScope, below: DatabaseInputs): DatabaseLayer {
  return { ...wirePostgres(scope, below), ...wireRedis(scope, below), ...wireMongo(scope, below) };
}

function wirePostgres(scope: LayerScope, below: DatabaseInputs): Pick<DatabaseLayer, "postgres" | "pgbouncer" | "backup" | "backupUpload"> {
  const { config } = scope;
  const { runtime } = below;
  const parent = childOf(scope);
  const consumers = consumersOf(config, "postgres");
  if (consumers.length === 0) return {};
  const postgres = new Postgres(
    "postgres",
    {
      runtime,
      image: config.postgres.image,
      exporterImage: config.postgres.exporterImage,
      resources: sizeOf(config.postgres),
      storageGiB: config.postgres.storageGiB,
      maxConnections: config.postgres.maxConnections,
      // Database names are SQL identifiers: gpu-jobs gets gpu_jobs.
      databases: consumers.map((service) => ({ service, database: service.replace(/-/g, "_") })),
      pki: below.pki,
    },
    parent,
  );
  const pgbouncer = new PgBouncer(
    "pgbouncer",
    {
      runtime,
      image: config.pgbouncer.image,
      exporterImage: config.pgbouncer.exporterImage,
      resources: sizeOf(config.pgbouncer),
      postgres,
      defaultPoolSize: config.pgbouncer.defaultPoolSize,
      maxClientConnections: config.pgbouncer.maxClientConnections,
      pki: below.pki,
    },
    parent,
  );
  const backup = new PostgresBackup(
    "postgres-backup",
    {
      runtime,
      image: config.postgres.image,
      postgres,
      schedule: config.backup.schedule,
      retention: config.backup.retention,
      volumeSizeGiB: config.backup.volumeSizeGiB,
    },
    parent,
  );
  const backupUpload = new PostgresBackupUpload("postgres-backup-upload", uploadArgs(scope, below, "postgres-backup"), parent);
  return { postgres, pgbouncer, backup, backupUpload };
}

function wireRedis(scope: LayerScope, below: DatabaseInputs): Pick<DatabaseLayer, "redis" | "redisBackup"> {
  const { config } = scope;
  const { runtime } = below;
  const parent = childOf(scope);
  const consumers = consumersOf(config, "redis");
  if (consumers.length === 0) return {};
  const redis = new Redis(
    "redis",
    {
      runtime,
      image: config.redis.image,
      exporterImage: config.redis.exporterImage,
      resources: sizeOf(config.redis),
      storageGiB: config.redis.storageGiB,
      evictionPolicy: config.redis.evictionPolicy,
      services: consumers,
      pki: below.pki,
    },
    parent,
  );
  const redisBackup = new RedisBackup(
    "redis-backup",
    { runtime, image: config.redis.image, redis, schedule: config.backup.schedule, retention: config.backup.retention, volumeSizeGiB: config.redis.storageGiB },
    parent,
  );
  uploadBackups(scope, below, "redis-backup-upload", "redis-backup", "redis");
  return { redis, redisBackup };
}

function wireMongo(scope: LayerScope, below: DatabaseInputs): Pick<DatabaseLayer, "mongo" | "mongoBackup"> {
  const { config } = scope;
  const { runtime } = below;
  const parent = childOf(scope);
  const databases: MongoServiceDatabase[] = [
    ...consumersOf(config, "mongo").map((service) => ({ service, database: service, indexes: [] })),
    ...config.mongo.databases.map((d) => ({ service: d.service, database: d.service, indexes: d.indexes })),
  ];
  if (databases.length === 0) return {};
  const mongo = new Mongo(
    "mongo",
    {
      runtime,
      image: config.mongo.image,
      exporterImage: config.mongo.exporterImage,
      resources: sizeOf(config.mongo),
      storageGiB: config.mongo.storageGiB,
      databases,
      pki: below.pki,
    },
    parent,
  );
  const mongoBackup = new MongoBackup(
    "mongo-backup",
    { runtime, image: config.mongo.image, mongo, schedule: config.backup.schedule, retention: config.backup.retention, volumeSizeGiB: config.mongo.storageGiB },
    parent,
  );
  uploadBackups(scope, below, "mongo-backup-upload", "mongo-backup", "mongo");
  return { mongo, mongoBackup };
}

/** Mirrors a backup job's volume to the backups bucket under `prefix`, like the PostgreSQL upload. */
function uploadBackups(scope: LayerScope, below: DatabaseInputs, name: string, backupJob: string, prefix: string): BackupUpload {
  return new BackupUpload(name, { ...uploadArgs(scope, below, backupJob), prefix }, childOf(scope));
}

/** How every backup upload reaches the backups bucket: MinIO in the backend zone, S3 from the frontend zone. */
function uploadArgs(scope: LayerScope, below: DatabaseInputs, backupJob: string): PostgresBackupUploadArgs {
  const { config } = scope;
  const { runtime, storage } = below;
  return {
    runtime,
    image: config.storage.clientImage,
    backupJob,
    endpoint: storage.endpoint,
    bucket: storage.buckets.backups,
    accessKey: storage.backupWriter.accessKey,
    secretKey: storage.backupWriter.secretKey,
    schedule: config.backup.uploadSchedule,
    zone: config.storage.provider === "minio" ? "backend" : "frontend",
    ready: storage.ready,
  };
}
