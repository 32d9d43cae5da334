import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import * as tls from "@pulumi/tls";
import { BrokerModel, RabbitMQ } from "./broker";
import { DatabaseKind, ServiceName, StackConfig } from "./config";
import { PostgresBackup } from "./database/backup";
import { BackupUpload, PostgresBackupUpload, PostgresBackupUploadArgs } from "./database/backup-upload";
import { Mongo, MongoServiceDatabase } from "./database/mongo";
import { MongoBackup } from "./database/mongo-backup";
import { PgBouncer } from "./database/pgbouncer";
import { Postgres } from "./database/postgres";
import { Redis } from "./database/redis";
import { RedisBackup } from "./database/redis-backup";
import { Monitoring, ScrapeTargetRegistry } from "./monitoring";
import { EksCluster } from "./cloud";
import { ClusterCharts, GpuNodePools, PriorityClasses, Scheduling } from "./gpu";
import { Zones } from "./network";
import { PlatformPki } from "./pki";
import { DeployedWorkload, Runtime } from "./runtime/workload";
import { configSettings, effectiveGpuProviders, FastifyService, GPU_JOBS_SERVICE_ACCOUNT, GpuJobsAccess, gpuJobsSettings, ServiceConnections, ServiceSettings, usersSettings } from "./services";
import { defaultBuckets, ObjectStorage } from "./storage";

export interface PlatformArgs {
  config: StackConfig;
}

/** Enabled services that consume a data service, in a stable order. */
export function consumersOf(config: StackConfig, kind: DatabaseKind): ServiceName[] {
  return (Object.keys(config.services) as ServiceName[]).filter((name) => config.services[name].enabled && config.services[name].databases.includes(kind));
}

/**
 * Composes the layers bottom to top: network, then data (database, broker, storage), then the
 * services, each taking the outputs of the ones below. A data service is deployed when something
 * consumes it. Child names are the workloads' DNS names ("postgres", "redis", ...), so they are
 * not prefixed: the Platform exists once per stack, and the runtime prefixes container, volume
 * and network names with the environment.
 */
export class Platform extends pulumi.ComponentResource {
  readonly cluster?: EksCluster;
  readonly gpuPools?: GpuNodePools;
  readonly scheduling?: Scheduling;
  readonly zones: Zones;
  /** The platform CA and every server's leaf certificate (other layers ask it for theirs). */
  readonly pki: PlatformPki;
  readonly storage: ObjectStorage;
  readonly postgres?: Postgres;
  readonly pgbouncer?: PgBouncer;
  readonly backup?: PostgresBackup;
  readonly backupUpload?: PostgresBackupUpload;
  readonly redis?: Redis;
  readonly redisBackup?: RedisBackup;
  readonly mongo?: Mongo;
  readonly mongoBackup?: MongoBackup;
  readonly rabbitmq?: RabbitMQ;
  readonly services: Partial<Record<ServiceName, FastifyService>> = {};
  readonly monitoring: Monitoring;
  readonly bootstrapAdminPassword?: pulumi.Output<string>;
  private readonly config: StackConfig;

  constructor(name: string, args: PlatformArgs, opts?: pulumi.ComponentResourceOptions) {
    super("fundament:index:Platform", name, {}, opts);
    const { config } = args;
    this.config = config;
    const parent = { parent: this };

    // prod from an empty account: the cluster first, then everything Kubernetes through its provider.
    if (config.target === "kubernetes" && config.cluster.mode === "eks") {
      this.cluster = new EksCluster("cluster", { cluster: config.cluster, environment: config.environment, tags: { project: "fundament", environment: config.environment } }, parent);
      if (config.gpu.pools.length > 0) this.gpuPools = new GpuNodePools("gpu-pools", { cluster: this.cluster, pools: config.gpu.pools }, parent);
    }
    const charts = this.cluster ? new ClusterCharts("cluster-charts", { cluster: this.cluster }, parent) : undefined;
    const priorities =
      config.target === "kubernetes" ? new PriorityClasses("priority-classes", { provider: this.cluster?.provider ?? undefined, dependsOn: this.cluster?.ready }, parent) : undefined;
    this.zones = new Zones(
      "network",
      config.target === "docker"
        ? { target: "docker", environment: config.environment, publishAddress: config.docker.publishAddress, publishDataPorts: config.docker.publishDataPorts, dockerHost: config.docker.host }
        : {
            target: "kubernetes",
            environment: config.environment,
            namespace: config.kubernetes.namespace,
            context: config.kubernetes.context,
            storageClass: config.kubernetes.storageClass ?? this.cluster?.storageClassName,
            provider: this.cluster?.provider,
            after: [...(this.cluster?.ready ?? []), ...(priorities?.resources ?? [])],
          },
      parent,
    );
    this.pki = new PlatformPki(
      "pki",
      {
        naming: config.target === "docker" ? { target: "docker" } : { target: "kubernetes", namespace: config.kubernetes.namespace },
        settings: config.tls,
      },
      parent,
    );
    // Every layer deploys through the registry, so Prometheus scrapes whatever declares metrics.
    const runtime = new ScrapeTargetRegistry(this.zones.runtime);
    const size = (s: { cpu: number; memoryMiB: number }) => ({ cpu: s.cpu, memoryMiB: s.memoryMiB });

    const buckets = defaultBuckets(config.storage.backupRetentionDays);
    this.storage = new ObjectStorage(
      config.storage.provider === "minio" ? "minio" : "object-storage",
      config.storage.provider === "minio"
        ? { provider: "minio", runtime, image: config.storage.image, clientImage: config.storage.clientImage, resources: size(config.storage), storageGiB: config.storage.storageGiB, buckets }
        : { provider: "s3", bucketPrefix: `fundament-${config.environment}`, buckets },
      parent,
    );

    const postgresConsumers = consumersOf(config, "postgres");
    if (postgresConsumers.length > 0) {
      this.postgres = new Postgres(
        "postgres",
        {
          runtime,
          image: config.postgres.image,
          exporterImage: config.postgres.exporterImage,
          resources: size(config.postgres),
          storageGiB: config.postgres.storageGiB,
          maxConnections: config.postgres.maxConnections,
          // Database names are SQL identifiers: gpu-jobs gets gpu_jobs.
          databases: postgresConsumers.map((service) => ({ service, database: service.replace(/-/g, "_") })),
        },
        parent,
      );
      this.pgbouncer = new PgBouncer(
        "pgbouncer",
        {
          runtime,
          image: config.pgbouncer.image,
          exporterImage: config.pgbouncer.exporterImage,
          resources: size(config.pgbouncer),
          postgres: this.postgres,
          defaultPoolSize: config.pgbouncer.defaultPoolSize,
          maxClientConnections: config.pgbouncer.maxClientConnections,
        },
        parent,
      );
      this.backup = new PostgresBackup(
        "postgres-backup",
        {
          runtime,
          image: config.postgres.image,
          postgres: this.postgres,
          schedule: config.backup.schedule,
          retention: config.backup.retention,
          volumeSizeGiB: config.backup.volumeSizeGiB,
        },
        parent,
      );
      this.backupUpload = new PostgresBackupUpload("postgres-backup-upload", this.uploadArgs("postgres-backup", runtime), parent);
    }

    const redisConsumers = consumersOf(config, "redis");
    if (redisConsumers.length > 0) {
      this.redis = new Redis(
        "redis",
        {
          runtime,
          image: config.redis.image,
          exporterImage: config.redis.exporterImage,
          resources: size(config.redis),
          storageGiB: config.redis.storageGiB,
          evictionPolicy: config.redis.evictionPolicy,
          services: redisConsumers,
        },
        parent,
      );
      this.redisBackup = new RedisBackup(
        "redis-backup",
        { runtime, image: config.redis.image, redis: this.redis, schedule: config.backup.schedule, retention: config.backup.retention, volumeSizeGiB: config.redis.storageGiB },
        parent,
      );
      this.uploadBackups("redis-backup-upload", "redis-backup", "redis", runtime);
    }

    const mongoDatabases: MongoServiceDatabase[] = [
      ...consumersOf(config, "mongo").map((service) => ({ service, database: service, indexes: [] })),
      ...config.mongo.databases.map((d) => ({ service: d.service, database: d.service, indexes: d.indexes })),
    ];
    if (mongoDatabases.length > 0) {
      this.mongo = new Mongo(
        "mongo",
        {
          runtime,
          image: config.mongo.image,
          exporterImage: config.mongo.exporterImage,
          resources: size(config.mongo),
          storageGiB: config.mongo.storageGiB,
          databases: mongoDatabases,
          pki: this.pki,
        },
        parent,
      );
      this.mongoBackup = new MongoBackup(
        "mongo-backup",
        { runtime, image: config.mongo.image, mongo: this.mongo, schedule: config.backup.schedule, retention: config.backup.retention, volumeSizeGiB: config.mongo.storageGiB },
        parent,
      );
      this.uploadBackups("mongo-backup-upload", "mongo-backup", "mongo", runtime);
    }

    const brokerConsumers = consumersOf(config, "rabbitmq");
    if (brokerConsumers.length > 0) {
      const model: BrokerModel = { queues: config.rabbitmq.queues, services: brokerConsumers.map((service) => ({ name: service, publishes: ["events"] })) };
      this.rabbitmq = new RabbitMQ(
        "rabbitmq",
        { runtime, image: config.rabbitmq.image, resources: size(config.rabbitmq), storageGiB: config.rabbitmq.storageGiB, model },
        parent,
      );
    }

    this.bootstrapAdminPassword = config.services.users.enabled
      ? pulumi.secret(new random.RandomPassword("users-bootstrap-admin", { length: 32, special: false }, parent).result)
      : undefined;
    for (const service of Object.keys(config.services) as ServiceName[]) {
      if (config.services[service].enabled) this.services[service] = this.service(service, runtime);
    }
    this.monitoring = new Monitoring(
      "monitoring",
      { runtime, environment: config.environment, domain: config.domain, namespace: config.target === "kubernetes" ? config.kubernetes.namespace : undefined, targets: runtime.targets, settings: config.monitoring },
      parent,
    );
    if (config.target === "kubernetes") {
      this.scheduling = new Scheduling(
        "scheduling",
        {
          namespace: config.kubernetes.namespace,
          gpuNamespace: config.gpu.namespace,
          pools: config.gpu.pools,
          quotas: config.quotas,
          autoscaling: config.autoscaling,
          services: (Object.keys(this.services) as ServiceName[]).map((name) => ({ name, replicas: config.services[name].replicas })),
          stateful: [this.postgres, this.redis, this.mongo, this.rabbitmq].filter((layer) => layer !== undefined).map((layer) => layer.workload.name).concat(config.storage.provider === "minio" ? ["minio"] : []),
          provider: this.cluster?.provider,
          vpaRelease: charts?.releases.verticalPodAutoscaler,
        },
        { parent: this, dependsOn: [this.zones] },
      );
      if (this.services["gpu-jobs"] && effectiveGpuProviders(config.gpuJobs, "kubernetes").includes("aws")) {
        new GpuJobsAccess("gpu-jobs-access", { namespace: config.kubernetes.namespace, gpuNamespace: this.scheduling.gpuNamespace, provider: this.cluster?.provider, dependsOn: [this.zones] }, parent);
      }
    }
    this.registerOutputs({});
  }

  /** Mirrors a backup job's volume to the backups bucket under `prefix`, like the PostgreSQL upload. */
  private uploadBackups(name: string, backupJob: string, prefix: string, runtime: Runtime): BackupUpload {
    return new BackupUpload(name, { ...this.uploadArgs(backupJob, runtime), prefix }, { parent: this });
  }

  /** How every backup upload reaches the backups bucket: MinIO in the backend zone, S3 from the frontend zone. */
  private uploadArgs(backupJob: string, runtime: Runtime): PostgresBackupUploadArgs {
    const config = this.config;
    return {
      runtime,
      image: config.storage.clientImage,
      backupJob,
      endpoint: this.storage.endpoint,
      bucket: this.storage.buckets.backups,
      accessKey: this.storage.backupWriter.accessKey,
      secretKey: this.storage.backupWriter.secretKey,
      schedule: config.backup.uploadSchedule,
      zone: config.storage.provider === "minio" ? "backend" : "frontend",
      ready: this.storage.ready,
    };
  }

  private service(service: ServiceName, runtime: Runtime): FastifyService {
    const config = this.config;
    // Stack config validation guarantees every service's databases exist (load-config.ts).
    const connections: ServiceConnections = {
      postgres: this.pgbouncer!.connections[service],
      redis: this.redis!.connections[service],
      rabbitmq: this.rabbitmq!.connections[service],
    };
    const settings: Record<ServiceName, () => ServiceSettings> = {
      users: () => {
        const signingKey = new tls.PrivateKey("users-jwt-signing-key", { algorithm: "ED25519" }, { parent: this });
        return usersSettings(connections, pulumi.secret(signingKey.privateKeyPemPkcs8), { email: `admin@${config.domain}`, password: this.bootstrapAdminPassword! });
      },
      config: () => configSettings(connections, "users"),
      "gpu-jobs": () =>
        gpuJobsSettings(connections, "users", config.gpuJobs, config.target === "kubernetes" ? { gpuNamespace: config.gpu.namespace, serviceAccount: GPU_JOBS_SERVICE_ACCOUNT } : undefined),
    };
    const dataServices: DeployedWorkload[] = [this.pgbouncer!.workload, this.redis!.workload, this.rabbitmq!.workload];
    const serviceConfig = config.services[service];
    return new FastifyService(
      service,
      {
        runtime,
        service,
        image: serviceConfig.image,
        registry: config.imageRegistry,
        dockerProvider: this.zones.dockerProvider,
        environment: config.environment,
        resources: { cpu: serviceConfig.cpu, memoryMiB: serviceConfig.memoryMiB },
        replicas: config.target === "docker" ? 1 : serviceConfig.replicas,
        dependsOn: dataServices,
        ...settings[service](),
      },
      { parent: this },
    );
  }

  /** What `pulumi stack output` shows: endpoints in plain text, every credential as a secret. */
  stackOutputs(): Record<string, unknown> {
    return {
      target: this.zones.runtime.target,
      environment: this.config.environment,
      postgres: this.postgres?.endpoint,
      databases: this.pgbouncer?.connections,
      redis: this.redis?.connections,
      mongo: this.mongo?.connections,
      rabbitmq: this.rabbitmq?.connections,
      // Plain on purpose: users and tools trust the platform CA with it (README, TLS).
      tls: {
        caCertificate: this.pki.caCertPem,
        certificates: Object.fromEntries(this.pki.leaves().map((leaf) => [leaf.name, { dnsNames: leaf.dnsNames, validUntil: leaf.validUntil, renewsFrom: leaf.renewsFrom }])),
      },
      objectStorage: { endpoint: this.storage.endpoint, buckets: this.storage.buckets },
      services: Object.fromEntries(Object.entries(this.services).map(([name, service]) => [name, service.workload.endpoint("http")])),
      monitoring: this.monitoring.outputs(),
      cluster: this.cluster
        ? {
            name: this.cluster.clusterName,
            endpoint: this.cluster.endpoint,
            oidcIssuer: this.cluster.oidcIssuer,
            gatewaySecurityGroupId: this.cluster.gatewaySecurityGroupId,
          }
        : undefined,
      // Apart from the cluster's plain facts: one secret inside an object makes the whole object secret.
      kubeconfig: this.cluster?.kubeconfig,
      gpuPools: this.gpuPools?.pools,
      gpuNamespace: this.scheduling?.gpuNamespace,
      usersBootstrapAdmin: this.bootstrapAdminPassword ? { email: `admin@${this.config.domain}`, password: this.bootstrapAdminPassword } : undefined,
    };
  }
}
