import { defineResourcePolicy, type FundamentPolicy } from "../policy-definition";
import { asBoolean, asNumber, asRecord, asRecords, asString, asStrings, at } from "../model/property-values";
import { DATA_SERVICE_PORTS, asWorkloadRole } from "../model/data-services";
import { DOCKER_CONTAINER, dockerContainerView, type DockerContainerView } from "../model/docker-container";
import { isKind, K8S_SERVICE, POD_CONTROLLER_TYPES, POD_SPEC_SHAPE, podView, stringMap } from "../model/kubernetes-objects";

function isLoopback(ip: string | undefined): boolean {
  return ip !== undefined && (ip === "::1" || ip === "localhost" || /^127\.\d+\.\d+\.\d+$/.test(ip));
}

interface PortBeyondLoopback {
  index: number;
  internal: number | undefined;
  /** Where Docker binds the port, in the words a finding uses. */
  bound: string;
  /** A data or admin port: no-public-data-port's finding, critical there. */
  sensitive: boolean;
}

/** The container's published ports that answer on a host interface other than loopback. */
function portsBeyondLoopback(container: DockerContainerView): PortBeyondLoopback[] {
  const found: PortBeyondLoopback[] = [];
  container.ports.forEach((port, index) => {
    if (isLoopback(port.ip)) return;
    found.push({
      index,
      internal: port.internal,
      bound: port.ip === undefined ? "every host interface (ip is missing, so Docker binds 0.0.0.0)" : `host interface ${port.ip}`,
      sensitive: container.isData || (port.internal !== undefined && DATA_SERVICE_PORTS.has(port.internal)),
    });
  });
  return found;
}

const WORLD_CIDRS = new Set(["0.0.0.0/0", "::/0"]);

const K8S_INGRESS = "kubernetes:networking.k8s.io/v1:Ingress";

/** Ingresses under any API version (extensions/v1beta1 from old charts) and their patches. */
const INGRESS_SHAPE = {
  description: "Ingresses and IngressPatches under any API version",
  matches: (type: string): boolean => isKind(type, "Ingress", "IngressPatch"),
};

/** ingress-nginx's snippet annotations (configuration, server, location, auth, stream, modsecurity) and NGINX Inc.'s. */
const SNIPPET_ANNOTATION = /^(nginx\.ingress\.kubernetes\.io\/[a-z-]*-snippet|nginx\.org\/[a-z-]*-snippets?)$/;

/**
 * Whether a LoadBalancer Service's annotations make its load balancer internal: the AWS Load
 * Balancer Controller's scheme (internal unless it says internet-facing, for the Services it
 * manages), the in-tree AWS, GKE and Azure annotations.
 */
function isInternalLoadBalancer(annotations: Record<string, string>): boolean {
  const scheme = annotations["service.beta.kubernetes.io/aws-load-balancer-scheme"];
  if (scheme !== undefined) return scheme === "internal";
  const awsType = annotations["service.beta.kubernetes.io/aws-load-balancer-type"];
  if (awsType === "external" || awsType === "nlb-ip") return true;
  return (
    // The in-tree controller takes "true" or a CIDR such as 0.0.0.0/0 here.
    !["", "false", undefined].includes(annotations["service.beta.kubernetes.io/aws-load-balancer-internal"]) ||
    annotations["service.beta.kubernetes.io/azure-load-balancer-internal"] === "true" ||
    annotations["networking.gke.io/load-balancer-type"] === "Internal" ||
    annotations["cloud.google.com/load-balancer-type"] === "Internal"
  );
}

/** Services and their patches under any API version: a patch sets the addresses as surely as the object. */
const SERVICE_SHAPE = {
  description: "Services and ServicePatches under any API version",
  matches: (type: string): boolean => isKind(type, "Service", "ServicePatch"),
};

/** Plain HTTP and HTTPS are what a public load balancer is for. */
function isPublicWebRange(from: number | undefined, to: number | undefined, protocol: string | undefined): boolean {
  return from !== undefined && from === to && (from === 80 || from === 443) && (protocol === "tcp" || protocol === "6");
}

function describeRange(from: number | undefined, to: number | undefined, protocol: string | undefined): string {
  if (protocol === "-1" || protocol === "all") return "all ports and protocols";
  return from === to ? `${protocol ?? "tcp"} port ${from ?? "?"}` : `${protocol ?? "tcp"} ports ${from ?? "?"}-${to ?? "?"}`;
}

export const exposurePolicies: FundamentPolicy[] = [
  defineResourcePolicy({
    name: "no-public-data-port",
    description: "Docker containers must not publish data-service or admin ports on a host interface other than loopback.",
    concern: "exposure",
    severity: "critical",
    enforcement: "mandatory",
    remediation: 'Publish the port with ip "127.0.0.1" (or not at all) and reach admin UIs through the gateway, which authenticates them.',
    types: [DOCKER_CONTAINER],
    validate: (resource, report) => {
      const container = dockerContainerView(resource.props);
      if (container.publishAllPorts && container.role !== "gateway") {
        report("publishAllPorts is true: every exposed port is published on all host interfaces");
      }
      for (const port of portsBeyondLoopback(container)) {
        if (!port.sensitive) continue;
        report(`ports[${port.index}]: port ${port.internal ?? "?"} is published on ${port.bound}; bind it to 127.0.0.1`);
      }
    },
  }),
  defineResourcePolicy({
    name: "docker-only-gateway-publishes",
    description: "On a Docker host only the gateway publishes ports beyond loopback; any other container's port on a host interface is reached without the gateway's TLS, authentication and rate limits.",
    concern: "exposure",
    // High: the port answers everyone who reaches the host (a LAN, a VPN, the internet) with what
    // the service trusts the gateway to have checked.
    severity: "high",
    enforcement: "mandatory",
    remediation: 'Route the port through the gateway (the workload\'s port with publish: "gateway"), or publish it with ip "127.0.0.1" for the host\'s own use.',
    types: [DOCKER_CONTAINER],
    validate: (resource, report) => {
      const container = dockerContainerView(resource.props);
      if (container.isGateway) return;
      for (const port of portsBeyondLoopback(container)) {
        if (port.sensitive) continue;
        report(`ports[${port.index}]: port ${port.internal ?? "?"} is published on ${port.bound}, around the gateway`);
      }
    },
  }),
  defineResourcePolicy({
    name: "no-public-data-service",
    description: "Data services must not be exposed through LoadBalancer or NodePort Services.",
    concern: "exposure",
    severity: "critical",
    enforcement: "mandatory",
    remediation: "Use a ClusterIP Service for data stores; admin UIs are routed through the gateway.",
    types: [K8S_SERVICE],
    validate: (resource, report) => {
      const serviceType = asString(at(resource.props, "spec", "type")) ?? "ClusterIP";
      if (serviceType !== "LoadBalancer" && serviceType !== "NodePort") return;
      const labels = { ...stringMap(at(resource.props, "spec", "selector")), ...stringMap(at(resource.props, "metadata", "labels")) };
      const dataRole = asWorkloadRole(labels["fundament.io/role"]) === "data";
      const dataPorts = asRecords(at(resource.props, "spec", "ports")).flatMap((port) =>
        [asNumber(port["port"]), asNumber(port["targetPort"])].filter((value): value is number => value !== undefined && DATA_SERVICE_PORTS.has(value)),
      );
      if (dataRole || dataPorts.length > 0) {
        const what = dataRole ? "a data workload (fundament.io/role=data)" : `data-service port ${dataPorts.join(", ")}`;
        report(`spec.type ${serviceType} exposes ${what} outside the cluster`);
      }
    },
  }),
  defineResourcePolicy({
    name: "k8s-public-load-balancer-web-only",
    description: "An internet-facing LoadBalancer Service open to the world may carry only HTTP and HTTPS (ports 80 and 443), as for security groups; other ports go through the gateway or an internal load balancer.",
    concern: "exposure",
    // High: every other port (SSH, a database, an admin UI, a metrics endpoint) is then scanned and
    // attacked from the whole internet, with no gateway authentication in front.
    severity: "high",
    enforcement: "mandatory",
    remediation: 'Route the service through the gateway; or make the load balancer internal (service.beta.kubernetes.io/aws-load-balancer-scheme: internal), or restrict spec.loadBalancerSourceRanges to the ranges that need it.',
    types: [K8S_SERVICE],
    validate: (resource, report) => {
      if (asString(at(resource.props, "spec", "type")) !== "LoadBalancer") return;
      const annotations = stringMap(at(resource.props, "metadata", "annotations"));
      if (isInternalLoadBalancer(annotations)) return;
      const ranges = asStrings(at(resource.props, "spec", "loadBalancerSourceRanges"));
      if (ranges.length > 0 && !ranges.some((range) => WORLD_CIDRS.has(range))) return;
      asRecords(at(resource.props, "spec", "ports")).forEach((port, index) => {
        const number = asNumber(port["port"]);
        const protocol = (asString(port["protocol"]) ?? "TCP").toLowerCase();
        if (isPublicWebRange(number, number, protocol)) return;
        report(`spec.ports[${index}] puts ${protocol} port ${number ?? "?"} on an internet-facing load balancer open to ${ranges.length > 0 ? ranges.filter((range) => WORLD_CIDRS.has(range)).join(" and ") : "the world (no loadBalancerSourceRanges)"}`);
      });
    },
  }),
  defineResourcePolicy({
    name: "k8s-no-service-external-ips",
    description: "Services must not list externalIPs: kube-proxy then captures traffic for those addresses on every node (CVE-2020-8554).",
    concern: "exposure",
    // High: whoever may create a Service in any namespace can claim any address this way,
    // including another service's or an outside one's, and read or answer its traffic.
    severity: "high",
    enforcement: "mandatory",
    remediation: "Remove spec.externalIPs; expose the workload through the gateway (or a LoadBalancer Service the cloud assigns an address to).",
    types: [K8S_SERVICE],
    alsoJudges: SERVICE_SHAPE,
    validate: (resource, report) => {
      const addresses = asStrings(at(resource.props, "spec", "externalIPs"));
      if (addresses.length > 0) report(`spec.externalIPs lists ${addresses.join(", ")}: every node's kube-proxy intercepts traffic to ${addresses.length === 1 ? "it" : "them"} for this Service`);
    },
  }),
  defineResourcePolicy({
    name: "k8s-no-node-ports",
    description:
      "Services must not open a port on every node: no type NodePort, and a LoadBalancer whose load balancer sends to pod IPs (the AWS controller's ip targets) sets allocateLoadBalancerNodePorts: false.",
    concern: "exposure",
    // Medium: a node port answers on every node's address, past the gateway's TLS, routing and
    // rate limits, to whatever reaches the nodes (the VPC, a peered network, a misconfigured group).
    severity: "medium",
    enforcement: { dev: "advisory", prod: "mandatory" },
    remediation:
      "Use a ClusterIP Service behind the gateway; for a LoadBalancer with ip targets set spec.allocateLoadBalancerNodePorts: false. A load balancer in instance mode needs node ports: exempt that Service by name with the reason.",
    types: [K8S_SERVICE],
    alsoJudges: SERVICE_SHAPE,
    validate: (resource, report) => {
      const type = asString(at(resource.props, "spec", "type"));
      if (type === "NodePort") {
        report("spec.type is NodePort: each of its ports answers on every node's address, past the gateway");
        return;
      }
      const annotations = stringMap(at(resource.props, "metadata", "annotations"));
      const podTargets = annotations["service.beta.kubernetes.io/aws-load-balancer-nlb-target-type"] === "ip";
      if (type === "LoadBalancer" && podTargets && asBoolean(at(resource.props, "spec", "allocateLoadBalancerNodePorts")) !== false) {
        report("a LoadBalancer with ip targets allocates node ports it never uses (allocateLoadBalancerNodePorts is not false): every node answers on them");
      }
    },
  }),
  defineResourcePolicy({
    name: "k8s-no-ingress-snippets",
    description: "Ingresses must not carry NGINX configuration snippets (nginx.ingress.kubernetes.io/*-snippet, nginx.org/*-snippets): whoever may write an Ingress then runs configuration inside the controller (CVE-2021-25742).",
    concern: "exposure",
    // High: a snippet runs with the ingress controller's rights, which read every TLS Secret in
    // the cluster, and can proxy any path to any address.
    severity: "high",
    enforcement: "mandatory",
    remediation: "Express the behaviour with the controller's dedicated annotations (or a Traefik Middleware on this platform's gateway); keep allow-snippet-annotations off in the controller's ConfigMap.",
    types: [K8S_INGRESS],
    alsoJudges: INGRESS_SHAPE,
    validate: (resource, report) => {
      for (const [key, value] of Object.entries(stringMap(at(resource.props, "metadata", "annotations")))) {
        if (SNIPPET_ANNOTATION.test(key) && value.trim() !== "") report(`metadata.annotations["${key}"] injects NGINX configuration into the ingress controller`);
      }
    },
  }),
  defineResourcePolicy({
    name: "no-host-network",
    description: "Containers must not share the host's network namespace.",
    concern: "exposure",
    severity: "high",
    enforcement: "mandatory",
    remediation: "Attach the container to its zone networks (Docker) or drop hostNetwork (Kubernetes); expose ports through Services.",
    types: [DOCKER_CONTAINER, ...POD_CONTROLLER_TYPES],
    alsoJudges: POD_SPEC_SHAPE,
    validate: (resource, report) => {
      if (resource.type === DOCKER_CONTAINER) {
        if (dockerContainerView(resource.props).networkMode === "host") report('networkMode is "host": the container binds directly on every host interface');
        return;
      }
      if (asBoolean(podView(resource.type, resource.props)?.spec["hostNetwork"]) === true) {
        report("hostNetwork is true: the pod binds directly on the node's interfaces, bypassing NetworkPolicies");
      }
    },
  }),
  defineResourcePolicy({
    name: "no-host-port",
    description: "Pod containers must not bind node ports with hostPort.",
    concern: "exposure",
    severity: "high",
    enforcement: "mandatory",
    remediation: "Remove hostPort and expose the container through a ClusterIP Service (or the gateway).",
    types: POD_CONTROLLER_TYPES,
    alsoJudges: POD_SPEC_SHAPE,
    validate: (resource, report) => {
      for (const { container, label } of podView(resource.type, resource.props)?.containers ?? []) {
        asRecords(container["ports"]).forEach((port, index) => {
          const hostPort = asNumber(port["hostPort"]);
          if (hostPort !== undefined && hostPort > 0) report(`${label}: ports[${index}].hostPort ${hostPort} binds the port on the node`);
        });
      }
    },
  }),
  defineResourcePolicy({
    name: "no-world-open-ingress",
    description: "Security groups must not admit 0.0.0.0/0 or ::/0, except HTTP(S) on ports 80 and 443.",
    concern: "exposure",
    severity: "critical",
    enforcement: "mandatory",
    remediation: "Restrict the source to the VPC CIDR, a peer security group or named office ranges; only the gateway's load balancer takes 80/443 from anywhere.",
    types: ["aws:ec2/securityGroup:SecurityGroup", "aws:ec2/securityGroupRule:SecurityGroupRule", "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"],
    validate: (resource, report) => {
      const check = (field: string, cidrs: string[], from: number | undefined, to: number | undefined, protocol: string | undefined): void => {
        const open = cidrs.filter((cidr) => WORLD_CIDRS.has(cidr));
        if (open.length === 0 || isPublicWebRange(from, to, protocol)) return;
        report(`${field} admits ${open.join(" and ")} on ${describeRange(from, to, protocol)}`);
      };
      const props = resource.props;
      if (resource.type === "aws:ec2/securityGroup:SecurityGroup") {
        asRecords(props["ingress"]).forEach((rule, index) => {
          const cidrs = [...asStrings(rule["cidrBlocks"]), ...asStrings(rule["ipv6CidrBlocks"])];
          check(`ingress[${index}]`, cidrs, asNumber(rule["fromPort"]), asNumber(rule["toPort"]), asString(rule["protocol"]));
        });
      } else if (resource.type === "aws:ec2/securityGroupRule:SecurityGroupRule") {
        if (asString(props["type"]) !== "ingress") return;
        const cidrs = [...asStrings(props["cidrBlocks"]), ...asStrings(props["ipv6CidrBlocks"])];
        check("rule", cidrs, asNumber(props["fromPort"]), asNumber(props["toPort"]), asString(props["protocol"]));
      } else {
        const cidrs = [asString(props["cidrIpv4"]), asString(props["cidrIpv6"])].filter((cidr): cidr is string => cidr !== undefined);
        check("rule", cidrs, asNumber(props["fromPort"]), asNumber(props["toPort"]), asString(props["ipProtocol"]));
      }
    },
  }),
  defineResourcePolicy({
    name: "eks-endpoint-not-public",
    description: "The EKS API endpoint must not be reachable from the whole internet.",
    concern: "exposure",
    severity: "high",
    enforcement: { dev: "advisory", prod: "mandatory" },
    remediation: "Set vpcConfig.endpointPublicAccess to false (reach the API over the VPC), or restrict vpcConfig.publicAccessCidrs to named ranges.",
    types: ["aws:eks/cluster:Cluster"],
    validate: (resource, report) => {
      const vpc = asRecord(resource.props["vpcConfig"]) ?? {};
      // EKS defaults to a public endpoint open to 0.0.0.0/0 when these fields are left out.
      if (asBoolean(vpc["endpointPublicAccess"]) === false) return;
      const cidrs = asStrings(vpc["publicAccessCidrs"]);
      if (cidrs.length === 0) {
        report("vpcConfig.endpointPublicAccess is on and publicAccessCidrs is missing, so the API endpoint admits 0.0.0.0/0");
      } else if (cidrs.some((cidr) => WORLD_CIDRS.has(cidr))) {
        report(`vpcConfig.publicAccessCidrs admits ${cidrs.filter((cidr) => WORLD_CIDRS.has(cidr)).join(" and ")}`);
      }
    },
  }),
  defineResourcePolicy({
    name: "eks-node-ssh-restricted",
    description: "EKS node groups with SSH access must limit it to source security groups.",
    concern: "exposure",
    severity: "high",
    enforcement: "mandatory",
    remediation: "Drop remoteAccess (use SSM Session Manager) or set remoteAccess.sourceSecurityGroupIds to a bastion's group.",
    types: ["aws:eks/nodeGroup:NodeGroup"],
    validate: (resource, report) => {
      const remote = asRecord(resource.props["remoteAccess"]);
      if (!remote) return;
      // Without source groups EKS opens port 22 on the nodes to 0.0.0.0/0.
      if (asStrings(remote["sourceSecurityGroupIds"]).length === 0) {
        report("remoteAccess has no sourceSecurityGroupIds, so EKS opens SSH (port 22) on every node to 0.0.0.0/0");
      }
    },
  }),
];
