import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";

export const PROMETHEUS_SERVICE_ACCOUNT = "prometheus";

/** What pod discovery (kubernetes_sd_configs, role pod) calls: list and watch pods, read one. Nothing else. */
export const PROMETHEUS_DISCOVERY_RULES: k8s.types.input.rbac.v1.PolicyRule[] = [{ apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch"] }];

export interface PrometheusAccessArgs {
  namespace: pulumi.Input<string>;
  provider?: k8s.Provider;
  dependsOn?: pulumi.Input<pulumi.Resource>[];
}

/**
 * Prometheus' Kubernetes identity: without it, pod discovery gets 403 from the API server and
 * finds no target at all. A Role in the platform namespace, not a ClusterRole: it discovers only
 * the namespace it scrapes.
 */
export class PrometheusAccess extends pulumi.ComponentResource {
  readonly serviceAccount: k8s.core.v1.ServiceAccount;

  constructor(name: string, args: PrometheusAccessArgs, opts?: pulumi.ComponentResourceOptions) {
    super("fundament:monitoring:PrometheusAccess", name, {}, opts);
    const child = { parent: this, provider: args.provider, dependsOn: args.dependsOn };
    const labels = { "app.kubernetes.io/part-of": "fundament", "app.kubernetes.io/name": "prometheus" };
    this.serviceAccount = new k8s.core.v1.ServiceAccount(
      `${name}-account`,
      { metadata: { name: PROMETHEUS_SERVICE_ACCOUNT, namespace: args.namespace, labels }, automountServiceAccountToken: false },
      child,
    );
    const role = new k8s.rbac.v1.Role(`${name}-role`, { metadata: { name: "prometheus-discovery", namespace: args.namespace, labels }, rules: PROMETHEUS_DISCOVERY_RULES }, child);
    new k8s.rbac.v1.RoleBinding(
      `${name}-binding`,
      {
        metadata: { name: "prometheus-discovery", namespace: args.namespace, labels },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: role.metadata.name },
        subjects: [{ kind: "ServiceAccount", name: this.serviceAccount.metadata.name, namespace: args.namespace }],
      },
      child,
    );
    this.registerOutputs({});
  }
}
