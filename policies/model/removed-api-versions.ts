/**
 * Kubernetes API versions the API server no longer serves, with the release that removed them
 * (kubernetes.io/docs/reference/using-api/deprecation-guide). An object under one of them is
 * refused at `pulumi up` ("no matches for kind"), after a preview that looked fine; old charts
 * and YAML files still carry them.
 */
const REMOVED_GROUP_VERSIONS: ReadonlyMap<string, string> = new Map([
  ["extensions/v1beta1", "1.16"],
  ["apps/v1beta1", "1.16"],
  ["apps/v1beta2", "1.16"],
  ["networking.k8s.io/v1beta1", "1.22"],
  ["rbac.authorization.k8s.io/v1beta1", "1.22"],
  ["rbac.authorization.k8s.io/v1alpha1", "1.22"],
  ["admissionregistration.k8s.io/v1beta1", "1.22"],
  ["apiextensions.k8s.io/v1beta1", "1.22"],
  ["apiregistration.k8s.io/v1beta1", "1.22"],
  ["authentication.k8s.io/v1beta1", "1.22"],
  ["authorization.k8s.io/v1beta1", "1.22"],
  ["certificates.k8s.io/v1beta1", "1.22"],
  ["coordination.k8s.io/v1beta1", "1.22"],
  ["scheduling.k8s.io/v1beta1", "1.22"],
  ["scheduling.k8s.io/v1alpha1", "1.17"],
  ["policy/v1beta1", "1.25"],
  ["batch/v1beta1", "1.25"],
  ["batch/v2alpha1", "1.21"],
  ["autoscaling/v2beta1", "1.25"],
  ["autoscaling/v2beta2", "1.26"],
  ["discovery.k8s.io/v1beta1", "1.25"],
  ["events.k8s.io/v1beta1", "1.25"],
  ["node.k8s.io/v1beta1", "1.25"],
  ["node.k8s.io/v1alpha1", "1.25"],
  ["flowcontrol.apiserver.k8s.io/v1beta1", "1.26"],
  ["flowcontrol.apiserver.k8s.io/v1beta2", "1.29"],
  ["flowcontrol.apiserver.k8s.io/v1beta3", "1.32"],
]);

/** Groups that went kind by kind: extensions/v1beta1 kept Ingress until 1.22, storage.k8s.io/v1beta1 CSIStorageCapacity until 1.27. */
const REMOVED_KINDS: ReadonlyMap<string, string> = new Map([
  ["extensions/v1beta1:Ingress", "1.22"],
  ["storage.k8s.io/v1beta1:CSIDriver", "1.22"],
  ["storage.k8s.io/v1beta1:CSINode", "1.22"],
  ["storage.k8s.io/v1beta1:StorageClass", "1.22"],
  ["storage.k8s.io/v1beta1:VolumeAttachment", "1.22"],
  ["storage.k8s.io/v1beta1:CSIStorageCapacity", "1.27"],
]);

/** The release that removed a Kubernetes type token's API version, or undefined while it is served. */
export function removedIn(type: string): { groupVersion: string; release: string } | undefined {
  const [provider, groupVersion = "", kind = ""] = type.split(":");
  if (provider !== "kubernetes") return undefined;
  // A patch goes to the same API version as the object it changes.
  const release = REMOVED_KINDS.get(`${groupVersion}:${kind.replace(/Patch$/, "")}`) ?? REMOVED_GROUP_VERSIONS.get(groupVersion);
  return release === undefined ? undefined : { groupVersion, release };
}
