import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../config/stack-config";
import type { Runtime } from "../runtime/workload";
import { Gateway, GatewayCertificate, GatewayConsulAccess } from "./gateway";
import { GATEWAY_NAME } from "./gateway-workload";
import { RouteRegistry } from "./route-registry";

/** What the gateway needs of the platform PKI (components/pki): the CA, and a leaf for its public names. */
export interface GatewayPki {
  readonly caCertPem: pulumi.Output<string>;
  leaf(name: string, dnsNames: readonly string[]): { certPem: pulumi.Output<string>; keyPem: pulumi.Output<string> };
}

export interface GatewayLayerArgs {
  config: StackConfig;
  routes: RouteRegistry;
  runtime: Runtime;
  pki: GatewayPki;
  consul?: GatewayConsulAccess;
  /** Workloads whose routed port serves HTTPS with a platform-CA leaf. */
  httpsBackends?: string[];
}

/**
 * The AWS Load Balancer Controller's annotations for the gateway's Service: an internet-facing
 * NLB sending straight to the pods (ip targets), with PROXY protocol v2 so Traefik sees client
 * addresses (ip targets do not preserve them by default); on a cluster the stack built, behind
 * the security group that admits only 80 and 443.
 */
export function nlbAnnotations(options: { gatewaySecurityGroupId?: pulumi.Input<string>; proxyProtocol: boolean }): Record<string, pulumi.Input<string>> {
  const { gatewaySecurityGroupId } = options;
  return {
    "service.beta.kubernetes.io/aws-load-balancer-type": "external",
    "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type": "ip",
    "service.beta.kubernetes.io/aws-load-balancer-scheme": "internet-facing",
    // Only where Traefik trusts the header's senders (gatewayLayer): it would refuse it otherwise.
    ...(options.proxyProtocol ? { "service.beta.kubernetes.io/aws-load-balancer-proxy-protocol": "*" } : {}),
    ...(gatewaySecurityGroupId !== undefined
      ? {
          "service.beta.kubernetes.io/aws-load-balancer-security-groups": gatewaySecurityGroupId,
          "service.beta.kubernetes.io/aws-load-balancer-manage-backend-security-group-rules": "true",
        }
      : {}),
  };
}

/** Where the public certificate comes from, per stack config. */
function certificateOf(config: StackConfig, pki: GatewayPki): GatewayCertificate {
  const gateway = config.gateway;
  switch (gateway.certificates) {
    case "acme": {
      const acme = gateway.acme;
      return {
        kind: "acme",
        email: acme.email!,
        caServer: acme.caServer,
        challenge: acme.challenge === "dns" ? { kind: "dns", provider: acme.dnsProvider! } : { kind: "tls" },
        dnsCredentials: acme.dnsCredentials,
      };
    }
    case "provided":
      return { kind: "files", certificatePem: gateway.certificate.cert!, privateKeyPem: pulumi.secret(gateway.certificate.key!) };
    case "platform-ca": {
      // One leaf for every route host: they are all <name>.<domain>.
      const leaf = pki.leaf(`${GATEWAY_NAME}-public`, [config.domain, `*.${config.domain}`]);
      return { kind: "files", certificatePem: leaf.certPem, privateKeyPem: leaf.keyPem };
    }
  }
}

/**
 * The edge layer: the Traefik gateway, deployed through the route registry's runtime (so its
 * metrics are scraped like any workload's). The caller runs `serveRoutes()` once every other
 * layer has deployed.
 */
export function gatewayLayer(parent: pulumi.Resource, args: GatewayLayerArgs): Gateway {
  const { config } = args;
  const eks = config.target === "kubernetes" && config.cluster.mode === "eks";
  return new Gateway(
    GATEWAY_NAME,
    {
      routes: args.routes,
      runtime: args.runtime,
      domain: config.domain,
      image: config.gateway.image,
      resources: { cpu: config.gateway.cpu, memoryMiB: config.gateway.memoryMiB },
      replicas: config.target === "docker" ? 1 : config.gateway.replicas,
      certificate: certificateOf(config, args.pki),
      caCertificatePem: args.pki.caCertPem,
      consul: args.consul,
      httpsBackends: args.httpsBackends,
      // The NLB's nodes sit in the VPC: only they may speak PROXY protocol to the gateway.
      proxyProtocolTrustedIPs: eks ? [config.cluster.vpcCidr] : undefined,
    },
    { parent },
  );
}
