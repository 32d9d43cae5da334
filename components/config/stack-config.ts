import type { QueueSpec } from "../broker/broker-model";
import type { AutoscalingConfig, ClusterConfig, GpuConfig, QuotaConfig } from "./cluster-schema";
import { DATABASE_KINDS, GPU_PROVIDERS, SERVICE_NAMES } from "./stack-schema";

/** The validated, defaulted stack config: the one object the whole program reads. */

export type Target = "docker" | "kubernetes";
export type ServiceName = (typeof SERVICE_NAMES)[number];
export type DatabaseKind = (typeof DATABASE_KINDS)[number];
export type EvictionPolicy =
  | "noeviction" | "allkeys-lru" | "allkeys-lfu" | "volatile-lru" | "volatile-lfu" | "allkeys-random" | "volatile-random" | "volatile-ttl";

export interface Size {
  cpu: number;
  memoryMiB: number;
}

export interface ServiceConfig extends Size {
  enabled: boolean;
  image: string;
  replicas: number;
  databases: DatabaseKind[];
}

export interface MongoIndexConfig {
  collection: string;
  keys: Record<string, 1 | -1>;
  unique: boolean;
  name?: string;
}

export interface WebhookReceiverConfig {
  url?: string;
  key?: string;
}

export interface MonitoringConfig extends Size {
  prometheusImage: string;
  alertmanagerImage: string;
  grafanaImage: string;
  jaegerImage: string;
  storageGiB: number;
  retentionDays: number;
  scrapeIntervalSeconds: number;
  escalationAfterMinutes: number;
  dashboardFolder: string;
  traceRetentionHours: number;
  traceStorageGiB: number;
  receivers: {
    pager: WebhookReceiverConfig;
    slack: { webhookUrl?: string; channel: string };
    email: { to?: string; from?: string; smarthost?: string; username?: string; password?: string; requireTls: boolean };
    escalation: WebhookReceiverConfig;
    deadMansSwitch: WebhookReceiverConfig;
  };
}

export type GatewayCertificates = "platform-ca" | "acme" | "provided";

export interface GatewayConfig extends Size {
  image: string;
  replicas: number;
  certificates: GatewayCertificates;
  /** dnsCredentials values are config secrets: wrap in pulumi.secret before they reach a resource. */
  acme: { email?: string; challenge: "tls" | "dns"; dnsProvider?: string; dnsCredentials: Record<string, string>; caServer: string };
  /** The key is a config secret. */
  certificate: { cert?: string; key?: string };
}

/** Validity and renewal of the internal PKI's certificates, in hours. */
export interface TlsConfig {
  caValidityHours: number;
  validityHours: number;
  earlyRenewalHours: number;
}

export interface StackConfig {
  stack: string;
  target: Target;
  environment: string;
  domain: string;
  docker: { host?: string; publishAddress: string; publishDataPorts: boolean };
  kubernetes: { namespace: string; context?: string; storageClass?: string };
  postgres: Size & { image: string; exporterImage: string; storageGiB: number; maxConnections: number };
  pgbouncer: Size & { image: string; exporterImage: string; defaultPoolSize: number; maxClientConnections: number };
  backup: { schedule: string; uploadSchedule: string; retention: number; volumeSizeGiB: number };
  tls: TlsConfig;
  redis: Size & { image: string; exporterImage: string; storageGiB: number; evictionPolicy: EvictionPolicy };
  mongo: Size & { image: string; exporterImage: string; storageGiB: number; databases: { service: string; indexes: MongoIndexConfig[] }[] };
  rabbitmq: Size & { image: string; storageGiB: number; queues: QueueSpec[] };
  storage: Size & { provider: "minio" | "s3"; image: string; clientImage: string; storageGiB: number; backupRetentionDays: number };
  monitoring: MonitoringConfig;
  gateway: GatewayConfig;
  imageRegistry: "local" | "ecr";
  services: Record<ServiceName, ServiceConfig>;
  cluster: ClusterConfig;
  gpu: GpuConfig;
  gpuJobs: GpuJobsConfig;
  autoscaling: AutoscalingConfig;
  quotas: QuotaConfig;
}

export type GpuProviderName = (typeof GPU_PROVIDERS)[number];

export interface GpuOfferConfig {
  provider: "aws" | "genesis" | "paperspace";
  type: string;
  gpuModel: string;
  gpuMemoryGiB: number;
  gpuCount: number;
  region: string;
  spot: boolean;
  pricePerHour: number;
}

export interface GpuJobsConfig {
  providers: GpuProviderName[];
  /** Secret values (Pulumi config secrets): wrap in pulumi.secret before they reach a resource. */
  apiKeys: Partial<Record<"runpod" | "vastai" | "lambda" | "paperspace" | "genesis", string>>;
  offers: GpuOfferConfig[];
  maxAttempts: number;
}
