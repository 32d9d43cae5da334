import { asRecord, asRecords, asString, at, type PropertyRecord } from "./property-values";
import { isKind, kubernetesKind, podView, selectorMatches } from "./kubernetes-objects";
import { readIfKnown, readKnown } from "./unknown-values";

/**
 * References between Kubernetes objects of one stack that the API server accepts unresolved and
 * that break only once the objects run: a Service whose selector matches no pod has no endpoints,
 * nor has one whose named targetPort is no port name of its pods; an Ingress backend naming a
 * missing Service, or a port that Service does not have, answers 503; and a pod naming a missing
 * service account is never created (its controller retries "serviceaccount not found" forever).
 *
 * An autoscaler whose scaleTargetRef names a missing controller scales nothing, and a
 * NetworkPolicy whose podSelector matches no pod restricts nothing (the workload it was written
 * for stays open), while a peer podSelector that matches no pod leaves the traffic it was meant
 * to allow blocked.
 *
 * A reference is only called dangling when every candidate it could resolve to is known: during
 * `pulumi preview` a name or label built from another resource's output is not known yet, and
 * an object whose namespace is not known could be anywhere.
 */

export interface JudgedObject {
  type: string;
  /** The Pulumi resource name: what a custom resource or release is known by when its metadata does not say. */
  name: string;
  props: PropertyRecord;
}

export interface DanglingReference<T extends JudgedObject> {
  resource: T;
  message: string;
}

/**
 * What the stack holds per namespace. `incomplete`: some object's name, labels or namespace is
 * not known, so nothing there can be called dangling. `hiddenMakers`: names of Helm releases
 * (and their charts) and custom resources there, whose objects are not in the stack.
 */
/** A pod template's labels and the names of its containers' ports (undefined: not known during preview). */
interface IndexedPod {
  labels: Record<string, string>;
  portNames: ReadonlySet<string> | undefined;
}

/** A Service's port names and numbers (undefined: not known during preview). */
type ServicePorts = { names: ReadonlySet<string>; numbers: ReadonlySet<number> } | undefined;

interface NamespaceIndex {
  pods: IndexedPod[];
  /** Names of the scalable controllers, by kind: what an autoscaler's scaleTargetRef resolves against. */
  controllers: Map<string, Set<string>>;
  services: Map<string, ServicePorts>;
  serviceAccounts: Set<string>;
  hiddenMakers: string[];
  incomplete: boolean;
}

const DEFAULT_NAMESPACE = "default";

/** Kinds a HorizontalPodAutoscaler scales through their scale subresource, among the built-in ones. */
const SCALABLE_KINDS: readonly string[] = ["Deployment", "StatefulSet", "ReplicaSet", "ReplicationController"];

function namespaceOf(props: PropertyRecord): string | undefined {
  const namespace = readKnown(() => at(props, "metadata", "namespace"));
  if (namespace === undefined || namespace === null || namespace === "") return DEFAULT_NAMESPACE;
  return asString(namespace);
}

function knownName(props: PropertyRecord): string | undefined {
  return asString(readKnown(() => at(props, "metadata", "name")));
}

/**
 * Helm releases (their manifests are not separate resources) and custom resources (an operator
 * may create pods, Services or service accounts for them). Built-in groups are the unqualified
 * ones (core, apps, batch, policy, autoscaling, extensions) and those under k8s.io.
 */
function hiddenMaker(object: JudgedObject): { namespace: string | undefined; names: string[] } | undefined {
  const [provider, groupVersion = ""] = object.type.split(":");
  if (provider !== "kubernetes") return undefined;
  const group = groupVersion.split("/")[0] ?? "";
  if (group === "helm.sh") {
    if (!object.type.endsWith(":Release")) return undefined;
    const namespace = readKnown(() => object.props["namespace"]);
    const names = [readKnown(() => object.props["name"]), readKnown(() => object.props["chart"]), object.name].flatMap((name) => {
      const text = asString(name);
      // A chart given as repo/name or an OCI reference: its last segment is what labels carry.
      return text ? [text.split("/").pop() ?? text] : [];
    });
    return { namespace: namespace === undefined || namespace === null || namespace === "" ? DEFAULT_NAMESPACE : asString(namespace), names };
  }
  if (!group.includes(".") || group.endsWith(".k8s.io")) return undefined;
  return { namespace: namespaceOf(object.props), names: [knownName(object.props), object.name].flatMap((name) => (name ? [name] : [])) };
}

function emptyIndex(): NamespaceIndex {
  return { pods: [], controllers: new Map(), services: new Map(), serviceAccounts: new Set(), hiddenMakers: [], incomplete: false };
}

/** The names a pod template gives its containers' ports: what a Service's named targetPort resolves against. */
function podPortNames(object: JudgedObject): ReadonlySet<string> | undefined {
  const read = readIfKnown(() => {
    const names = new Set<string>();
    for (const { container, ephemeral } of podView(object.type, object.props)?.containers ?? []) {
      if (ephemeral) continue;
      for (const port of asRecords(container["ports"])) {
        const name = asString(port["name"]);
        if (name !== undefined) names.add(name);
      }
    }
    return names;
  });
  return read.known ? read.value : undefined;
}

function servicePorts(props: PropertyRecord): ServicePorts {
  // An ExternalName Service is a DNS alias: the port an Ingress names is dialled on the far host as given.
  if (readKnown(() => at(props, "spec", "type")) === "ExternalName") return undefined;
  const read = readIfKnown(() => {
    const ports = asRecords(at(props, "spec", "ports"));
    return {
      names: new Set(ports.flatMap((port) => (typeof port["name"] === "string" ? [port["name"]] : []))),
      numbers: new Set(ports.flatMap((port) => (typeof port["port"] === "number" ? [port["port"]] : []))),
    };
  });
  return read.known ? read.value : undefined;
}

function indexStack(objects: readonly JudgedObject[]): { byNamespace: Map<string, NamespaceIndex>; anywhereIncomplete: boolean } {
  const byNamespace = new Map<string, NamespaceIndex>();
  let anywhereIncomplete = false;
  const entry = (namespace: string): NamespaceIndex => {
    let index = byNamespace.get(namespace);
    if (!index) {
      index = emptyIndex();
      byNamespace.set(namespace, index);
    }
    return index;
  };
  for (const object of objects) {
    const maker = hiddenMaker(object);
    if (maker) {
      if (maker.namespace === undefined) anywhereIncomplete = true;
      else entry(maker.namespace).hiddenMakers.push(...maker.names);
      continue;
    }
    const pod = readIfKnown(() => podView(object.type, object.props)?.labels);
    const relevant = isKind(object.type, "Service", "ServiceAccount") || !pod.known || pod.value !== undefined;
    if (!relevant) continue;
    const namespace = namespaceOf(object.props);
    if (namespace === undefined) {
      anywhereIncomplete = true;
      continue;
    }
    const index = entry(namespace);
    if (isKind(object.type, "Service", "ServiceAccount")) {
      const name = knownName(object.props);
      if (name === undefined) index.incomplete = true;
      else if (isKind(object.type, "Service")) index.services.set(name, servicePorts(object.props));
      else index.serviceAccounts.add(name);
      continue;
    }
    if (pod.known && pod.value !== undefined) index.pods.push({ labels: pod.value, portNames: podPortNames(object) });
    else index.incomplete = true;
    const kind = kubernetesKind(object.type);
    if (kind !== undefined && SCALABLE_KINDS.includes(kind)) {
      const name = knownName(object.props);
      if (name === undefined) index.incomplete = true;
      else index.controllers.set(kind, (index.controllers.get(kind) ?? new Set()).add(name));
    }
  }
  return { byNamespace, anywhereIncomplete };
}

/**
 * Whether a name or label value could be one a Helm release or an operator gives its objects:
 * charts name them after the release or chart ("<release>", "<release>-<chart>") and label them
 * with both; operators label and name theirs after the custom resource.
 */
function couldBeHidden(index: NamespaceIndex, values: readonly string[]): boolean {
  return values.some((value) => index.hiddenMakers.some((maker) => maker !== "" && value.startsWith(maker)));
}

function serviceSelector(props: PropertyRecord): Record<string, string> | undefined {
  const spec = asRecord(readKnown(() => props["spec"]));
  if (!spec || readKnown(() => spec["type"]) === "ExternalName") return undefined;
  const selector = asRecord(readKnown(() => spec["selector"]));
  if (!selector) return undefined;
  const labels: Record<string, string> = {};
  for (const key of Object.keys(selector)) {
    const value = asString(readKnown(() => selector[key]));
    if (value === undefined) return undefined;
    labels[key] = value;
  }
  return Object.keys(labels).length > 0 ? labels : undefined;
}

interface IngressBackend {
  path: string;
  service: string;
  /** The Service port it names, by name or number; undefined when not given or not known. */
  port: string | number | undefined;
}

/** The Service names and ports an Ingress's backends use (networking.k8s.io/v1 and the old extensions form), with where each is. */
function ingressBackends(props: PropertyRecord): IngressBackend[] {
  const found: IngressBackend[] = [];
  const take = (backend: unknown, path: string) => {
    const record = asRecord(backend);
    if (!record) return;
    const service = asString(readKnown(() => at(record, "service", "name"))) ?? asString(readKnown(() => record["serviceName"]));
    const port = readKnown(() => at(record, "service", "port", "name") ?? at(record, "service", "port", "number") ?? record["servicePort"]);
    if (service !== undefined) found.push({ path, service, port: typeof port === "string" || typeof port === "number" ? port : undefined });
  };
  const spec = asRecord(readKnown(() => props["spec"])) ?? {};
  take(readKnown(() => spec["defaultBackend"]), "spec.defaultBackend");
  take(readKnown(() => spec["backend"]), "spec.backend");
  asRecords(readKnown(() => spec["rules"])).forEach((rule, ruleIndex) => {
    asRecords(readKnown(() => at(rule, "http", "paths"))).forEach((path, pathIndex) => {
      take(readKnown(() => path["backend"]), `spec.rules[${ruleIndex}].http.paths[${pathIndex}].backend`);
    });
  });
  return found;
}

/** A Service's ports whose targetPort is a name, with their index (known values only). */
function namedTargetPorts(props: PropertyRecord): { index: number; targetPort: string }[] {
  return (readKnown(() => asRecords(at(props, "spec", "ports")).map((port) => port["targetPort"])) ?? []).flatMap((targetPort, index) =>
    typeof targetPort === "string" && !/^\d+$/.test(targetPort) ? [{ index, targetPort }] : [],
  );
}

/**
 * A label selector whose every part is known, what it says (for messages) and the label values it
 * names (for the Helm-release check); undefined while a preview does not know a part.
 */
function knownSelector(value: unknown): { selector: PropertyRecord; described: string[]; values: string[] } | undefined {
  const read = readIfKnown(() => {
    const selector = asRecord(value);
    if (!selector) return undefined;
    // Reads every part, so one a preview left unknown makes the whole selector unknown.
    JSON.stringify(selector);
    const labels = Object.entries(asRecord(selector["matchLabels"]) ?? {}).map(([key, label]) => ({ key, label: String(label) }));
    const expressions = asRecords(selector["matchExpressions"]).map((expression) => ({
      key: String(expression["key"]),
      operator: String(expression["operator"]),
      values: Array.isArray(expression["values"]) ? expression["values"].map(String) : [],
    }));
    return {
      selector,
      described: [...labels.map(({ key, label }) => `${key}=${label}`), ...expressions.map(({ key, operator, values }) => `${key} ${operator}${values.length > 0 ? ` (${values.join(", ")})` : ""}`)],
      values: [...labels.map(({ label }) => label), ...expressions.flatMap(({ values }) => values)],
    };
  });
  return read.known ? read.value : undefined;
}

/**
 * The peers of a NetworkPolicy's rules that name pods of its own namespace: a podSelector without
 * a namespaceSelector (with one, the pods are in namespaces the stack may not hold). An empty
 * selector is every pod there.
 */
function peerSelectors(props: PropertyRecord): { path: string; selector: NonNullable<ReturnType<typeof knownSelector>> }[] {
  const found: { path: string; selector: NonNullable<ReturnType<typeof knownSelector>> }[] = [];
  for (const [direction, peersKey] of [["ingress", "from"], ["egress", "to"]] as const) {
    asRecords(readKnown(() => at(props, "spec", direction))).forEach((rule, ruleIndex) => {
      asRecords(readKnown(() => rule[peersKey])).forEach((peer, peerIndex) => {
        const namespaces = readIfKnown(() => peer["namespaceSelector"]);
        if (!namespaces.known || namespaces.value !== undefined || readKnown(() => peer["podSelector"]) === undefined) return;
        const selector = knownSelector(readKnown(() => peer["podSelector"]));
        if (selector && selector.described.length > 0) found.push({ path: `spec.${direction}[${ruleIndex}].${peersKey}[${peerIndex}]`, selector });
      });
    });
  }
  return found;
}

function describeLabels(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([key, value]) => `${key}=${value}`)
    .join(", ");
}

/** Every reference of the stack's Services, Ingresses and pod templates that resolves to nothing in it. */
export function danglingReferences<T extends JudgedObject>(objects: readonly T[]): DanglingReference<T>[] {
  const { byNamespace, anywhereIncomplete } = indexStack(objects);
  const found: DanglingReference<T>[] = [];
  if (anywhereIncomplete) return found;
  for (const object of objects) {
    const namespace = namespaceOf(object.props);
    if (namespace === undefined) continue;
    const index = byNamespace.get(namespace) ?? emptyIndex();
    if (index.incomplete) continue;
    if (isKind(object.type, "Service")) {
      const selector = serviceSelector(object.props);
      if (!selector || couldBeHidden(index, Object.values(selector))) continue;
      const selected = index.pods.filter((pod) => Object.entries(selector).every(([key, value]) => pod.labels[key] === value));
      if (selected.length === 0) {
        found.push({
          resource: object,
          message: `spec.selector (${describeLabels(selector)}) matches no pod template in namespace "${namespace}": the Service has no endpoints`,
        });
        continue;
      }
      for (const { index: portIndex, targetPort } of namedTargetPorts(object.props)) {
        // A number reaches whatever listens there; a name must be a port name of the pods selected.
        if (selected.some((pod) => pod.portNames === undefined || pod.portNames.has(targetPort))) continue;
        found.push({
          resource: object,
          message: `spec.ports[${portIndex}].targetPort "${targetPort}" names no container port of the pods its selector matches: the Service has no endpoints on that port`,
        });
      }
    } else if (isKind(object.type, "Ingress")) {
      for (const backend of ingressBackends(object.props)) {
        if (couldBeHidden(index, [backend.service])) continue;
        if (!index.services.has(backend.service)) {
          found.push({ resource: object, message: `${backend.path} names Service "${backend.service}", which is not in namespace "${namespace}": requests to it get 503` });
          continue;
        }
        const ports = index.services.get(backend.service);
        if (ports === undefined || backend.port === undefined) continue;
        if (typeof backend.port === "string" ? ports.names.has(backend.port) : ports.numbers.has(backend.port)) continue;
        found.push({
          resource: object,
          message: `${backend.path} names port ${JSON.stringify(backend.port)} of Service "${backend.service}", which has no such port: requests to it get 503`,
        });
      }
    } else if (isKind(object.type, "HorizontalPodAutoscaler")) {
      const kind = asString(readKnown(() => at(object.props, "spec", "scaleTargetRef", "kind")));
      const name = asString(readKnown(() => at(object.props, "spec", "scaleTargetRef", "name")));
      // A custom resource's scale subresource (an Argo Rollout) is the operator's to resolve.
      if (kind === undefined || name === undefined || !SCALABLE_KINDS.includes(kind) || index.controllers.get(kind)?.has(name) || couldBeHidden(index, [name])) continue;
      found.push({ resource: object, message: `spec.scaleTargetRef names ${kind} "${name}", which is not in namespace "${namespace}": nothing is autoscaled` });
    } else if (isKind(object.type, "NetworkPolicy")) {
      const selector = knownSelector(readKnown(() => at(object.props, "spec", "podSelector")));
      // An empty selector is every pod of the namespace, however many there are.
      if (!selector || selector.described.length === 0 || couldBeHidden(index, selector.values)) continue;
      if (!index.pods.some((pod) => selectorMatches(selector.selector, pod.labels))) {
        found.push({ resource: object, message: `spec.podSelector (${selector.described.join(", ")}) matches no pod template in namespace "${namespace}": the policy restricts nothing` });
        continue;
      }
      for (const peer of peerSelectors(object.props)) {
        if (couldBeHidden(index, peer.selector.values) || index.pods.some((pod) => selectorMatches(peer.selector.selector, pod.labels))) continue;
        found.push({ resource: object, message: `${peer.path}.podSelector (${peer.selector.described.join(", ")}) matches no pod template in namespace "${namespace}": the traffic it was written to allow stays blocked` });
      }
    } else {
      const pod = readKnown(() => podView(object.type, object.props));
      if (!pod) continue;
      // serviceAccount is the deprecated alias; serviceAccountName wins when both are set.
      const field = readKnown(() => pod.spec["serviceAccountName"]) !== undefined ? "serviceAccountName" : "serviceAccount";
      const account = asString(readKnown(() => pod.spec[field]));
      if (account === undefined || account === "" || account === "default" || index.serviceAccounts.has(account) || couldBeHidden(index, [account])) continue;
      found.push({
        resource: object,
        message: `the pod template's ${field} "${account}" is not a ServiceAccount in namespace "${namespace}": its pods are never created`,
      });
    }
  }
  return found;
}
