/**
 * EKS managed add-ons, pinned per Kubernetes minor: an add-on version is built for a range of
 * control-plane versions, so a version bump of the cluster is a bump of this table too
 * (`aws eks describe-addon-versions --kubernetes-version 1.35 --addon-name <name>` lists them).
 * Only minors in EKS standard support belong here: the cluster asks for `upgradePolicy.supportType:
 * STANDARD`, and 1.35's standard support ends on 27 March 2027 (EKS release calendar).
 */
export const EKS_ADDON_VERSIONS: Record<string, Record<string, string>> = {
  // kube-proxy and coredns: the EKS user guide's version tables (managing-kube-proxy,
  // managing-coredns) for 1.35. The guide's vpc-cni table was not readable here, and it keeps none
  // for the pod identity agent and the EBS CSI driver: those three are builds that
  // describe-addon-versions lists for 1.35; the EBS CSI driver's maintainers support every
  // Kubernetes version EKS supports.
  "1.35": {
    "vpc-cni": "v1.21.1-eksbuild.8",
    "kube-proxy": "v1.35.3-eksbuild.13",
    "eks-pod-identity-agent": "v1.3.10-eksbuild.3",
    coredns: "v1.14.3-eksbuild.3",
    "aws-ebs-csi-driver": "v1.59.0-eksbuild.1",
  },
};

export const EKS_ADDONS = ["vpc-cni", "kube-proxy", "eks-pod-identity-agent", "coredns", "aws-ebs-csi-driver"] as const;
export type EksAddonName = (typeof EKS_ADDONS)[number];

export function addonVersion(kubernetesVersion: string, addon: EksAddonName): string {
  const versions = EKS_ADDON_VERSIONS[kubernetesVersion];
  if (!versions) throw new Error(`fundament:cluster.kubernetesVersion: no pinned add-on versions for ${kubernetesVersion} (known: ${Object.keys(EKS_ADDON_VERSIONS).join(", ")}); add them to components/cloud/aws/addon-versions.ts`);
  return versions[addon];
}
