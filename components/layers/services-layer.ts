import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { RabbitMQ } from "../broker";
import { ServiceName } from "../config";
import { Zones } from "../network";
import { PlatformPki } from "../pki";
import { apiRoute, DeployedWorkload, RateLimit, Runtime } from "../runtime/workload";
import { configSettings, FastifyService, GPU_JOBS_SERVICE_ACCOUNT, gpuJobsSettings, SERVICE_LONG_POLLS, ServiceConnections, ServiceSettings, tokenSigningKeys, usersSettings } from "../services";
import { consulServiceSettings } from "../discovery";
import { DatabaseLayer } from "./database-layer";
import { DiscoveryLayer } from "./discovery-layer";
import { childOf, LayerScope } from "./layer-scope";

export interface ServicesLayer {
  /** The enabled services, by name. */
  byName: Partial<Record<ServiceName, FastifyService>>;
  bootstrapAdminPassword?: pulumi.Output<string>;
}

interface ServicesInputs {
  runtime: Runtime;
  zones: Zones;
  databases: DatabaseLayer;
  broker?: RabbitMQ;
  /** The gateway's addresses, which alone may say who the client is (users' TRUST_PROXY). */
  trustedProxies?: pulumi.Input<string>;
  /** The platform CA, which every service verifies its data servers against, and the services' leaves. */
  pki: PlatformPki;
  /** Consul: each service registers itself and discovers through it. */
  discovery?: DiscoveryLayer;
}

/**
 * Each API's limit per client address at the gateway. users: logins and registrations are
 * argon2-bound (and limited per account inside); config: cached reads, polled by deployments.
 */
export const API_RATE_LIMITS: Record<ServiceName, RateLimit> = {
  users: { averagePerSecond: 20, burst: 40 },
  config: { averagePerSecond: 100, burst: 200 },
  "gpu-jobs": { averagePerSecond: 20, burst: 40 },
};

/** The enabled Fastify services, each connected to its databases and the broker through its own credentials. */
export function wireServices(scope: LayerScope, below: ServicesInputs): ServicesLayer {
  const { config } = scope;
  const bootstrapAdminPassword = config.services.users.enabled
    ? pulumi.secret(new random.RandomPassword("users-bootstrap-admin", { length: 32, special: false }, childOf(scope)).result)
    : undefined;
  const byName: Partial<Record<ServiceName, FastifyService>> = {};
  for (const service of Object.keys(config.services) as ServiceName[]) {
    if (config.services[service].enabled) byName[service] = wireService(scope, below, service, bootstrapAdminPassword);
  }
  return { byName, bootstrapAdminPassword };
}

function wireService(scope: LayerScope, below: ServicesInputs, service: ServiceName, bootstrapAdminPassword: pulumi.Output<string> | undefined): FastifyService {
  const { config } = scope;
  const { databases } = below;
  const parent = childOf(scope);
  // Stack config validation guarantees every service's databases exist (load-config.ts).
  const connections: ServiceConnections = {
    postgres: databases.pgbouncer!.connections[service],
    postgresSession: databases.postgres!.sessionConnections[service],
    redis: databases.redis!.connections[service],
    rabbitmq: below.broker!.connections[service],
  };
  const settings: Record<ServiceName, () => ServiceSettings> = {
    users: () =>
      usersSettings(connections, tokenSigningKeys(config.tokenSigning, parent), { email: `admin@${config.domain}`, password: bootstrapAdminPassword! }, below.trustedProxies),
    config: () => configSettings(connections, "users"),
    "gpu-jobs": () =>
      gpuJobsSettings(connections, "users", config.gpuJobs, config.target === "kubernetes" ? { gpuNamespace: config.gpu.namespace, serviceAccount: GPU_JOBS_SERVICE_ACCOUNT } : undefined),
  };
  const consulClient = below.discovery?.services[service];
  const consul = consulClient ? consulServiceSettings(consulClient) : { env: {}, secrets: {} };
  // Registration needs the token the ACL job puts into Consul.
  const discoveryWorkloads = below.discovery ? [below.discovery.consul.workload, below.discovery.consul.aclJob] : [];
  const dataServices: DeployedWorkload[] = [databases.pgbouncer!.workload, databases.redis!.workload, below.broker!.workload, ...discoveryWorkloads];
  const serviceConfig = config.services[service];
  const own = settings[service]();
  return new FastifyService(
    service,
    {
      runtime: below.runtime,
      service,
      image: serviceConfig.image,
      registry: config.imageRegistry,
      dockerProvider: below.zones.dockerProvider,
      environment: config.environment,
      resources: { cpu: serviceConfig.cpu, memoryMiB: serviceConfig.memoryMiB },
      replicas: config.target === "docker" ? 1 : serviceConfig.replicas,
      // The scheduling layer gives every service an HPA on Kubernetes, which then owns the count.
      autoscaled: config.target === "kubernetes",
      caCertPem: below.pki.caCertPem,
      leaf: below.pki.serverLeaf(service),
      dependsOn: dataServices,
      route: apiRoute(service, config.domain, API_RATE_LIMITS[service], "http", SERVICE_LONG_POLLS[service]),
      traceSampleRatio: config.monitoring.traceSampleRatio,
      ...own,
      env: { ...own.env, ...consul.env },
      secrets: { ...own.secrets, ...consul.secrets },
    },
    parent,
  );
}
