import * as pulumi from "@pulumi/pulumi";
import { ServiceName } from "../config";
import { CatalogRegistry, Consul, CONSUL_IMAGE, CONSUL_NAME, ConsulConsumer, ConsulServiceClient, ConsulTlsFiles } from "../discovery";
import { adminRoute, Runtime } from "../runtime/workload";
import { childOf, LayerScope } from "./layer-scope";

/** The part of the platform PKI discovery uses (components/pki: PlatformPki). */
export interface DiscoveryPki {
  readonly caCertPem: pulumi.Output<string>;
  serverLeaf(workload: string, options?: { pods?: number; extra?: string[]; use?: "server" | "client" | "server-and-client" }): { certPem: pulumi.Output<string>; keyPem: pulumi.Output<string> };
  leaf(name: string, dnsNames: readonly string[], options?: { use?: "server" | "client" | "server-and-client" }): { certPem: pulumi.Output<string>; keyPem: pulumi.Output<string> };
}

/** What the gateway's consulCatalog provider and Prometheus's scrape need: token, CA and a client certificate. */
export interface ConsulConsumerAccess extends ConsulTlsFiles {
  apiUrl: string;
  token: pulumi.Output<string>;
}

export interface DiscoveryLayer {
  consul: Consul;
  /** How many servers form the quorum (CONSUL_SERVERS). */
  servers: number;
  /** Per enabled service: what it registers and discovers with. */
  services: Partial<Record<ServiceName, ConsulServiceClient>>;
  /** The gateway's consulCatalog provider (read on every service and its healthy instances). */
  traefik: ConsulConsumerAccess;
  /** Prometheus's scrape of /v1/agent/metrics. */
  prometheus: ConsulConsumerAccess;
}

/** The services each service looks up through discover() (config: the users service's JWKS). */
const DISCOVERS: Record<ServiceName, ServiceName[]> = { users: [], config: ["users"], "gpu-jobs": [] };

export const CONSUL_SERVERS = { docker: 1, kubernetes: 3 } as const;

/**
 * Consul above the data layers: one server on Docker, three on Kubernetes, a token per
 * consumer. The catalogue is read from the registry every layer deploys through, when the
 * servers' configuration resolves, so the workloads of layers wired later are in it too.
 */
export function wireDiscovery(scope: LayerScope, below: { runtime: Runtime; catalog: CatalogRegistry; pki: DiscoveryPki }): DiscoveryLayer {
  const { config } = scope;
  const servers = CONSUL_SERVERS[config.target];
  const datacenter = config.environment;
  const { pki } = below;
  const clientOf = (name: string): ConsulTlsFiles => {
    const leaf = pki.leaf(`${name}-consul-client`, [], { use: "client" });
    return { ca: pki.caCertPem, cert: leaf.certPem, key: leaf.keyPem };
  };
  // Servers verify each other as server.<datacenter>.consul; the probes dial consul through --resolve.
  const serverLeaf = pki.serverLeaf(CONSUL_NAME, { pods: servers > 1 ? servers : 0, extra: [`server.${datacenter}.consul`], use: "server-and-client" });
  const enabled = (Object.keys(config.services) as ServiceName[]).filter((name) => config.services[name].enabled);
  const prometheusTls = clientOf("prometheus");
  const consumers: ConsulConsumer[] = [
    ...enabled.map((name): ConsulConsumer => ({ kind: "service", name, discovers: DISCOVERS[name].filter((d) => enabled.includes(d)) })),
    { kind: "traefik", name: "traefik" },
    { kind: "prometheus", name: "prometheus" },
  ];
  const consul = new Consul(
    CONSUL_NAME,
    {
      runtime: below.runtime,
      catalog: below.catalog,
      image: CONSUL_IMAGE,
      servers,
      datacenter,
      resources: { cpu: 0.5, memoryMiB: 512 },
      storageGiB: 10,
      tls: { server: { ca: pki.caCertPem, cert: serverLeaf.certPem, key: serverLeaf.keyPem }, aclJob: clientOf("consul-acl") },
      consumers,
      prometheusTls,
      // The UI behind the gateway's basic auth; it then asks for an ACL token (the bootstrap token, or one an operator made).
      route: { ...adminRoute(CONSUL_NAME, config.domain, "https"), tls: true },
    },
    childOf(scope),
  );
  const services = Object.fromEntries(
    enabled.map((name) => {
      const tls = clientOf(name);
      return [name, { token: consul.tokenOf(name), ...tls, ...(config.target === "docker" ? { serviceAddress: name } : {}) }];
    }),
  ) as Partial<Record<ServiceName, ConsulServiceClient>>;
  const access = (name: string, tls: ConsulTlsFiles): ConsulConsumerAccess => ({ apiUrl: consul.apiUrl, token: consul.tokenOf(name), ...tls });
  return { consul, servers, services, traefik: access("traefik", clientOf("traefik")), prometheus: access("prometheus", prometheusTls) };
}
