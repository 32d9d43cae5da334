import * as pulumi from "@pulumi/pulumi";
import { Gateway, GatewayConsulAccess, GatewayPki, gatewayLayer, RouteRegistry } from "../edge";
import { ConsulConsumerAccess } from "./discovery-layer";
import { ClusterLayer } from "./cluster-layer";
import { LayerScope } from "./layer-scope";

export interface EdgeLayer {
  gateway: Gateway;
  /**
   * Who may tell the users service a client's address (its TRUST_PROXY): on Docker the gateway
   * container's own addresses; on Kubernetes, where a pod's address is not stable, the network
   * pods take addresses from (the VPC on a cluster the stack built, private ranges otherwise).
   */
  trustedProxies: pulumi.Input<string>;
}

/** Consul's API as the consulCatalog provider names it (host:port), with Traefik's token and client certificate. */
function gatewayConsul(access: ConsulConsumerAccess): GatewayConsulAccess {
  return { address: new URL(access.apiUrl).host, token: access.token, clientCertPem: access.cert, clientKeyPem: access.key };
}

/**
 * The Traefik gateway. Wired before the services (they trust its address) and after the
 * network and Consul (its consulCatalog provider reads the catalogue with Traefik's token); its
 * routers are rendered by `gateway.serveRoutes()`, which the Platform calls once every layer has
 * deployed.
 */
export function wireEdge(scope: LayerScope, below: { cluster: ClusterLayer; runtime: RouteRegistry; pki: GatewayPki; consul?: ConsulConsumerAccess }): EdgeLayer {
  const { config } = scope;
  const gateway = gatewayLayer(scope.parent, { config, routes: below.runtime, runtime: below.runtime, pki: below.pki, consul: below.consul ? gatewayConsul(below.consul) : undefined });
  const trustedProxies: pulumi.Input<string> =
    config.target === "docker"
      ? (gateway.workload.addresses ?? pulumi.output([])).apply((addresses) => addresses.join(","))
      : config.cluster.mode === "eks"
        ? config.cluster.vpcCidr
        : "uniquelocal";
  return { gateway, trustedProxies };
}
