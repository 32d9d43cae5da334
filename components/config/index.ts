export * from "./stack-config";
export * from "./load-config";
export { STACK_SCHEMA, SERVICE_NAMES, DATABASE_KINDS } from "./stack-schema";
export { cronProblem, cronMatches } from "./cron";
export { imageReferenceProblem, parseImageReference } from "./image-reference";
export type { AutoscalingConfig, ClusterConfig, GpuConfig, GpuPoolConfig, NodeGroupSizeConfig, QuotaConfig } from "./cluster-schema";
