/**
 * EKS managed add-ons, pinned per Kubernetes minor: an add-on version is built for a range of
 * control-plane versions, so a version bump of the cluster is a bump of this table too
 * (`aws eks describe-addon-versions --kubernetes-version 1.33 --addon-name <name>` lists them).
 */
export const EKS_ADDON_VERSIONS: Record<string, Record<string, string>> = {
  // vpc-cni, kube-proxy and coredns: the versions the EKS user guide's version tables list for 1.33
  // (managing-vpc-cni, managing-kube-proxy, managing-coredns). The guide keeps no table for the
  // pod identity agent and the EBS CSI driver: those two are checked by describe-addon-versions only.
  "1.33": {
    "vpc-cni": "v1.20.1-eksbuild.3",
    "kube-proxy": "v1.33.5-eksbuild.2",
    "eks-pod-identity-agent": "v1.3.8-eksbuild.2",
    coredns: "v1.12.4-eksbuild.1",
    "aws-ebs-csi-driver": "v1.45.0-eksbuild.2",
  },
};

export const EKS_ADDONS = ["vpc-cni", "kube-proxy", "eks-pod-identity-agent", "coredns", "aws-ebs-csi-driver"] as const;
export type EksAddonName = (typeof EKS_ADDONS)[number];

export function addonVersion(kubernetesVersion: string, addon: EksAddonName): string {
  const versions = EKS_ADDON_VERSIONS[kubernetesVersion];
  if (!versions) throw new Error(`fundament:cluster.kubernetesVersion: no pinned add-on versions for ${kubernetesVersion} (known: ${Object.keys(EKS_ADDON_VERSIONS).join(", ")}); add them to components/cloud/aws/addon-versions.ts`);
  return versions[addon];
}
