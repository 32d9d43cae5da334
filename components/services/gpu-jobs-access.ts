import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";

export const GPU_JOBS_SERVICE_ACCOUNT = "gpu-jobs";

/** What the gpu-jobs service may do in the GPU namespace: create, read, list and delete Jobs, nothing else. */
export const GPU_JOBS_RULES: k8s.types.input.rbac.v1.PolicyRule[] = [{ apiGroups: ["batch"], resources: ["jobs"], verbs: ["create", "get", "list", "delete"] }];

export interface GpuJobsAccessArgs {
  /** The platform's namespace, where the service runs. */
  namespace: pulumi.Input<string>;
  /** Where the Jobs run; created by the scheduling layer. */
  gpuNamespace: pulumi.Input<string>;
  provider?: k8s.Provider;
  dependsOn?: pulumi.Input<pulumi.Resource>[];
}

/**
 * The `aws` provider's Kubernetes identity: a ServiceAccount in the platform namespace and a Role
 * in the GPU namespace limited to Jobs, bound to it. No ClusterRole: the service cannot touch any
 * other namespace, nor pods, secrets or nodes.
 */
export class GpuJobsAccess extends pulumi.ComponentResource {
  readonly serviceAccount: k8s.core.v1.ServiceAccount;
  readonly role: k8s.rbac.v1.Role;

  constructor(name: string, args: GpuJobsAccessArgs, opts?: pulumi.ComponentResourceOptions) {
    super("fundament:services:GpuJobsAccess", name, {}, opts);
    const child = { parent: this, provider: args.provider, dependsOn: args.dependsOn };
    const labels = { "app.kubernetes.io/part-of": "fundament", "app.kubernetes.io/name": "gpu-jobs" };
    this.serviceAccount = new k8s.core.v1.ServiceAccount(`${name}-account`, { metadata: { name: GPU_JOBS_SERVICE_ACCOUNT, namespace: args.namespace, labels }, automountServiceAccountToken: false }, child);
    this.role = new k8s.rbac.v1.Role(`${name}-role`, { metadata: { name: "gpu-jobs-launcher", namespace: args.gpuNamespace, labels }, rules: GPU_JOBS_RULES }, child);
    new k8s.rbac.v1.RoleBinding(
      `${name}-binding`,
      {
        metadata: { name: "gpu-jobs-launcher", namespace: args.gpuNamespace, labels },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: this.role.metadata.name },
        subjects: [{ kind: "ServiceAccount", name: this.serviceAccount.metadata.name, namespace: args.namespace }],
      },
      child,
    );
    this.registerOutputs({});
  }
}
