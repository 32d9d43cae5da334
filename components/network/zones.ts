import * as docker from "@pulumi/docker";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { DockerRuntime } from "../runtime/docker";
import { KubernetesRuntime } from "../runtime/kubernetes";
import { INTERNAL_ZONES, Runtime, Zone, ZONES } from "../runtime/workload";
import { ApiServerReach, zonePolicies } from "./zone-policies";

export type ZonesArgs =
  | { target: "docker"; environment: string; publishAddress: string; publishDataPorts?: boolean; dockerHost?: string }
  | {
      target: "kubernetes";
      environment: string;
      namespace: string;
      context?: string;
      storageClass?: string;
      provider?: k8s.Provider;
      after?: pulumi.Resource[];
      apiServer?: ApiServerReach;
      /** On the load balancer Service of published ports (the gateway's): the cloud controller's settings. */
      loadBalancerAnnotations?: Record<string, pulumi.Input<string>>;
      /** What that Service waits for (the load balancer controller). */
      loadBalancerDependsOn?: pulumi.Resource[];
    };

/**
 * Consul and the zone rule. Consul joins backend and monitoring, both internal, and offers its
 * HTTPS API (8501) in both, DNS (8600), RPC (8300) and gossip (8301) in backend; every call on
 * them needs a client certificate of the platform CA, and the API a token (ACL default deny).
 * Its health checks dial each catalogued workload from Consul's own place in the network, which
 * is the rule's one exception (zoneRuleAdmits, runtime/workload.ts): the servers reach each
 * workload's check port over any zone they share with it, even a port offered to no zone (the
 * gateway's ping). The catalogue registry marks that port; workloadIngressPolicy admits Consul's
 * pods to it on Kubernetes; on Docker sharing the network is all it takes.
 */

/**
 * The network layer: the zones every other layer places its workloads in, and the runtime that
 * puts them there. Docker: one network per zone, backend and monitoring internal. Kubernetes:
 * a namespace with default-deny and one NetworkPolicy per zone.
 */
export class Zones extends pulumi.ComponentResource {
  readonly runtime: Runtime;
  /** Docker network names or the Kubernetes namespace, for outputs and inventory. */
  readonly names: pulumi.Output<Record<Zone, string>>;
  /** The Docker provider of fundament:docker.host, for every other Docker resource of the stack. */
  readonly dockerProvider?: docker.Provider;

  constructor(name: string, args: ZonesArgs, opts?: pulumi.ComponentResourceOptions) {
    super("fundament:network:Zones", name, {}, opts);
    if (args.target === "docker") {
      const provider = args.dockerHost ? new docker.Provider(`${name}-docker`, { host: args.dockerHost }, { parent: this }) : undefined;
      this.dockerProvider = provider;
      const networks = Object.fromEntries(
        ZONES.map((zone) => [
          zone,
          new docker.Network(
            `${name}-${zone}`,
            {
              name: `${args.environment}-${zone}`,
              driver: "bridge",
              internal: INTERNAL_ZONES.includes(zone),
              attachable: false,
              labels: [
                { label: "fundament.zone", value: zone },
                { label: "fundament.environment", value: args.environment },
              ],
            },
            { parent: this, provider },
          ),
        ]),
      ) as Record<Zone, docker.Network>;
      let hostAccess: docker.Network | undefined;
      const hostAccessOnFirstUse = () => (hostAccess ??= hostAccessNetwork(name, args.environment, this, provider));
      this.runtime = new DockerRuntime({ environment: args.environment, networks, hostAccess: hostAccessOnFirstUse, publishAddress: args.publishAddress, publishDataPorts: args.publishDataPorts, provider });
      this.names = pulumi.output(Object.fromEntries(ZONES.map((zone) => [zone, networks[zone].name])) as Record<Zone, pulumi.Output<string>>);
    } else {
      // A cluster the stack built brings its own provider; otherwise the kubeconfig's (or the named context's).
      const provider = args.provider ?? (args.context ? new k8s.Provider(`${name}-kubernetes`, { context: args.context }, { parent: this }) : undefined);
      const namespace = new k8s.core.v1.Namespace(
        `${name}-namespace`,
        {
          metadata: {
            name: args.namespace,
            labels: {
              "app.kubernetes.io/part-of": "fundament",
              // Data images start as root to own their volumes, which "restricted" forbids; warn on it, enforce baseline.
              "pod-security.kubernetes.io/enforce": "baseline",
              "pod-security.kubernetes.io/warn": "restricted",
              "pod-security.kubernetes.io/audit": "restricted",
            },
          },
        },
        { parent: this, provider, dependsOn: args.after },
      );
      for (const policy of zonePolicies(args.apiServer)) {
        new k8s.networking.v1.NetworkPolicy(
          `${name}-${policy.name}`,
          { metadata: { name: policy.name, namespace: namespace.metadata.name, labels: { "app.kubernetes.io/part-of": "fundament" } }, spec: policy.spec },
          { parent: this, provider },
        );
      }
      this.runtime = new KubernetesRuntime({
        environment: args.environment,
        namespace: namespace.metadata.name,
        storageClass: args.storageClass,
        provider,
        loadBalancerAnnotations: args.loadBalancerAnnotations,
        loadBalancerDependsOn: args.loadBalancerDependsOn,
      });
      this.names = namespace.metadata.name.apply((ns) => Object.fromEntries(ZONES.map((zone) => [zone, `${ns}/zone-${zone}`])) as Record<Zone, string>);
    }
    this.registerOutputs({ names: this.names });
  }
}

/**
 * The network a container on internal networks only publishes its ports through (the data
 * services with `docker.publishDataPorts`), made when the first one needs it. Docker maps a published port on the container's gateway
 * endpoint, and an internal network is never one: on internal networks alone the engine records
 * the bindings and publishes nothing (moby/moby#36174). This bridge is not internal, so it can
 * carry the mapping, but it gives nothing else: no masquerading, so the container's packets
 * leave the host unanswerable and it keeps no way out; no traffic between the containers on it,
 * so the data services meet here only where they already meet, in backend.
 */
function hostAccessNetwork(name: string, environment: string, parent: pulumi.Resource, provider: docker.Provider | undefined): docker.Network {
  return new docker.Network(
    `${name}-host-access`,
    {
      name: `${environment}-host-access`,
      driver: "bridge",
      internal: false,
      attachable: false,
      options: {
        "com.docker.network.bridge.enable_ip_masquerade": "false",
        "com.docker.network.bridge.enable_icc": "false",
      },
      labels: [
        { label: "fundament.purpose", value: "host-access" },
        { label: "fundament.environment", value: environment },
      ],
    },
    { parent, provider },
  );
}
