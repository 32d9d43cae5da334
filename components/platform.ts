import * as pulumi from "@pulumi/pulumi";
import { RabbitMQ } from "./broker";
import { StackConfig } from "./config";
import { CONSUL_NAME } from "./discovery";
import {
  ClusterLayer,
  DatabaseLayer,
  DiscoveryLayer,
  EdgeLayer,
  LayerScope,
  NetworkLayer,
  ServicesLayer,
  wireBroker,
  wireCluster,
  wireDatabases,
  wireDiscovery,
  wireEdge,
  wireMonitoring,
  wireNetwork,
  wirePki,
  wireScheduling,
  wireServices,
  wireStorage,
} from "./layers";
import { Monitoring } from "./monitoring";
import { PlatformPki } from "./pki";
import { Scheduling } from "./gpu";
import { ObjectStorage } from "./storage";

export interface PlatformArgs {
  config: StackConfig;
}

/**
 * Composes the layers bottom to top: cluster, network, then data (storage, databases, broker),
 * then discovery (Consul), the gateway, the services, monitoring and scheduling, each taking the typed outputs of the ones below.
 * Each layer's wiring is one function in components/layers/, so a new layer is one line here.
 * Child names are the workloads' DNS names ("postgres", "redis", ...), so they are not
 * prefixed: the Platform exists once per stack, and the runtime prefixes container, volume and
 * network names with the environment.
 */
export class Platform extends pulumi.ComponentResource {
  readonly cluster: ClusterLayer;
  readonly network: NetworkLayer;
  /** The platform CA and every server's leaf certificate. */
  readonly pki: PlatformPki;
  readonly storage: ObjectStorage;
  readonly databases: DatabaseLayer;
  readonly rabbitmq?: RabbitMQ;
  /** Consul: the catalogue of every workload, a token per consumer. */
  readonly discovery: DiscoveryLayer;
  readonly services: ServicesLayer;
  readonly monitoring: Monitoring;
  readonly edge: EdgeLayer;
  readonly scheduling?: Scheduling;
  private readonly config: StackConfig;

  constructor(name: string, args: PlatformArgs, opts?: pulumi.ComponentResourceOptions) {
    super("fundament:index:Platform", name, {}, opts);
    const { config } = args;
    this.config = config;
    // Layers are the Platform's direct children: their URNs, and so the deployed resources, stay put.
    const scope: LayerScope = { config, parent: this };

    this.cluster = wireCluster(scope);
    this.network = wireNetwork(scope, { cluster: this.cluster });
    // Every layer deploys through the registry, so Prometheus scrapes whatever declares metrics.
    const { zones, runtime, scrapes, catalog } = this.network;
    this.storage = wireStorage(scope, { runtime });
    this.pki = wirePki(scope);
    this.databases = wireDatabases(scope, { runtime, storage: this.storage, pki: this.pki });
    this.rabbitmq = wireBroker(scope, { runtime, pki: this.pki });
    // Consul's catalogue is read from the registry when its configuration resolves, after every layer (also those below) deployed.
    this.discovery = wireDiscovery(scope, { runtime, catalog, pki: this.pki });
    // The gateway before the services (they trust its address), after Consul (its consulCatalog provider); its routers once all have deployed.
    this.edge = wireEdge(scope, { cluster: this.cluster, runtime, pki: this.pki, consul: this.discovery.traefik });
    this.services = wireServices(scope, {
      runtime,
      zones,
      databases: this.databases,
      broker: this.rabbitmq,
      trustedProxies: this.edge.trustedProxies,
      pki: this.pki,
      discovery: this.discovery,
    });
    this.monitoring = wireMonitoring(scope, { runtime, scrapes, cluster: this.cluster });
    this.edge.gateway.serveRoutes();
    this.scheduling = wireScheduling(scope, { cluster: this.cluster, zones, databases: this.databases, broker: this.rabbitmq, services: this.services });
    this.registerOutputs({});
  }

  /** What `pulumi stack output` shows: endpoints in plain text, every credential as a secret. */
  stackOutputs(): Record<string, unknown> {
    const { cluster, gpuPools } = this.cluster;
    const { bootstrapAdminPassword } = this.services;
    return {
      target: this.network.zones.runtime.target,
      environment: this.config.environment,
      postgres: this.databases.postgres?.endpoint,
      databases: this.databases.pgbouncer?.connections,
      redis: this.databases.redis?.connections,
      mongo: this.databases.mongo?.connections,
      rabbitmq: this.rabbitmq?.connections,
      // Plain on purpose: users and tools trust the platform CA with it (README, TLS).
      tls: {
        caCertificate: this.pki.caCertPem,
        certificates: Object.fromEntries(this.pki.leaves().map((leaf) => [leaf.name, { dnsNames: leaf.dnsNames, validUntil: leaf.validUntil, renewsFrom: leaf.renewsFrom }])),
      },
      objectStorage: { endpoint: this.storage.endpoint, buckets: this.storage.buckets },
      // Inside the platform: HTTPS with the service's leaf, verified against tls.caCertificate.
      services: Object.fromEntries(Object.entries(this.services.byName).map(([name, service]) => [name, service.workload.endpoint("http").apply((e) => `https://${e.host}:${e.port}`)])),
      monitoring: this.monitoring.outputs(),
      // The UI's URL is in publicUrls and its gateway login in adminUiCredentials; the UI itself asks for a token.
      consul: { apiUrl: this.discovery.consul.apiUrl, servers: this.discovery.servers, uiUrl: this.edge.gateway.urls[CONSUL_NAME] },
      consulBootstrapToken: this.discovery.consul.bootstrapToken,
      ...this.edge.gateway.outputs(),
      cluster: cluster
        ? {
            name: cluster.clusterName,
            endpoint: cluster.endpoint,
            oidcIssuer: cluster.oidcIssuer,
            gatewaySecurityGroupId: cluster.gatewaySecurityGroupId,
          }
        : undefined,
      // Apart from the cluster's plain facts: one secret inside an object makes the whole object secret.
      kubeconfig: cluster?.kubeconfig,
      gpuPools: gpuPools?.pools,
      gpuNamespace: this.scheduling?.gpuNamespace,
      usersBootstrapAdmin: bootstrapAdminPassword ? { email: `admin@${this.config.domain}`, password: bootstrapAdminPassword } : undefined,
    };
  }
}
