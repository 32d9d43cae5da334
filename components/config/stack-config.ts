import type { Static } from "@sinclair/typebox";
import { DATABASE_KINDS, EVICTION_POLICIES, GPU_PROVIDERS, SERVICE_NAMES, STACK_KEYS, STACK_SCHEMA } from "./stack-schema";

/**
 * The validated, defaulted stack config: the one object the whole program reads. Every type here
 * is read off the schema in stack-schema.ts, so a key is declared in one place only.
 */

type Keys = Static<typeof STACK_SCHEMA>;

export type Target = Keys["target"];
export type ServiceName = (typeof SERVICE_NAMES)[number];
export type DatabaseKind = (typeof DATABASE_KINDS)[number];
export type EvictionPolicy = (typeof EVICTION_POLICIES)[number];
export type GpuProviderName = (typeof GPU_PROVIDERS)[number];

export interface Size {
  cpu: number;
  memoryMiB: number;
}

export type ServiceConfig = Static<(typeof STACK_KEYS)["services"]["properties"]["users"]>;
export type MongoIndexConfig = Keys["mongo"]["databases"][number]["indexes"][number];
export type MonitoringConfig = Keys["monitoring"];
/** Validity and renewal of the internal PKI's certificates, in hours. */
export type TlsConfig = Keys["tls"];
export type WebhookReceiverConfig = MonitoringConfig["receivers"]["pager"];
export type GpuJobsConfig = Keys["gpuJobs"];
export type TokenSigningConfig = Keys["tokenSigning"];
export type GatewayConfig = Keys["gateway"];
export type GpuOfferConfig = GpuJobsConfig["offers"][number];

export type StackConfig = Omit<Keys, "environment"> & {
  /** The Pulumi stack name. */
  stack: string;
  /** Always set: the stack name stands in when the key is absent. */
  environment: string;
};
