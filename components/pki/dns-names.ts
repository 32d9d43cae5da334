/**
 * The names a client dials to reach a workload, per target; a leaf certificate carries exactly
 * these, so a client that verifies the host name accepts the server under any of them and under
 * nothing else.
 *
 * Docker: the runtime attaches every container to its zones' networks with the workload's name as
 * the network alias, and clients dial that alias (the container's own name carries the
 * environment prefix and is dialled by no one).
 * Kubernetes: the runtime gives each workload a ClusterIP Service named after it; clients in the
 * namespace dial `<svc>`, others the longer forms the cluster DNS resolves. A StatefulSet whose
 * members clients dial one by one (a Consul server set) adds each pod's name under its governing
 * Service, which resolves only when that Service is headless.
 */
export type PkiNaming = { target: "docker" } | { target: "kubernetes"; namespace: string; clusterDomain?: string };

export interface WorkloadNameOptions {
  /** StatefulSet members dialled one by one: pods `<svc>-0` … `<svc>-(pods-1)`. */
  pods?: number;
  /** Names a client inside the workload's own container dials (its probes: "localhost"). */
  extra?: string[];
}

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export function workloadDnsNames(naming: PkiNaming, workload: string, options: WorkloadNameOptions = {}): string[] {
  if (!DNS_LABEL.test(workload)) throw new Error(`pki: workload name ${JSON.stringify(workload)} is not a DNS label (lower-case letters, digits and dashes, at most 63)`);
  const names: string[] = [];
  if (naming.target === "docker") {
    names.push(workload);
  } else {
    const domain = naming.clusterDomain ?? "cluster.local";
    const forms = (host: string) => [host, `${host}.${naming.namespace}`, `${host}.${naming.namespace}.svc`, `${host}.${naming.namespace}.svc.${domain}`];
    names.push(...forms(workload));
    for (let ordinal = 0; ordinal < (options.pods ?? 0); ordinal++) {
      // Pod names resolve only under the governing Service: <pod>.<svc>[.<ns>[.svc[.domain]]].
      const pod = `${workload}-${ordinal}.${workload}`;
      names.push(pod, `${pod}.${naming.namespace}`, `${pod}.${naming.namespace}.svc`, `${pod}.${naming.namespace}.svc.${domain}`);
    }
  }
  names.push(...(options.extra ?? []));
  return [...new Set(names)];
}
