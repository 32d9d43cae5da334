import { defineResourcePolicy, defineStackPolicy, type FundamentPolicy } from "../policy-definition";
import { asBoolean, asRecord, asRecords, asString, asStrings, at, SECRET_PLACEHOLDER } from "../model/property-values";
import { DOCKER_CONTAINER, dockerContainerView } from "../model/docker-container";
import { carriesPodSpec, kubernetesKind, POD_CONTROLLER_TYPES, POD_SPEC_SHAPE, podView, selectorMatches, stringMap } from "../model/kubernetes-objects";
import { factsForImage } from "../model/image-programs";
import { readIfKnown, readKnown } from "../model/unknown-values";
import { danglingReferences } from "../model/kubernetes-references";
import { removedIn } from "../model/removed-api-versions";

/** The controllers whose selector apps/v1 requires and checks against their template. */
const APPS_V1_CONTROLLERS = ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"].map((kind) => `kubernetes:apps/v1:${kind}`);

const DOCKER_IMAGE = "docker:index/image:Image";

/**
 * What a real engine and the real providers do that the mock engine does not: rules a user's
 * change could break and only the first real `pulumi up` would show.
 */

/** Names given two different values, each once, in order of the second value; a repeat of the same value changes nothing. */
function conflictingNames(entries: readonly { name: string; value: string }[]): string[] {
  const first = new Map<string, string>();
  const conflicting = new Set<string>();
  for (const { name, value } of entries) {
    const earlier = first.get(name);
    if (earlier === undefined) first.set(name, value);
    else if (earlier !== value) conflicting.add(name);
  }
  return [...conflicting];
}

/** The program a healthcheck test runs first: argv[0] for CMD; the shell and the command's first word for CMD-SHELL. */
function healthcheckPrograms(tests: string[]): string[] {
  const [form, ...rest] = tests;
  const base = (path: string): string => path.split("/").pop() ?? path;
  if (form === "CMD" && rest[0] !== undefined) return [base(rest[0])];
  if (form === "CMD-SHELL" && rest[0] !== undefined) {
    const first = rest[0].trim().split(/\s+/)[0] ?? "";
    return ["sh", ...(first === "" || /^(if|for|while|exec|test|\[|!|\()$/.test(first) || first.includes("=") ? [] : [base(first)])];
  }
  return [];
}

/** time.Duration.String() of a duration in Go's syntax, or undefined when it is not one. */
function goDurationAsRead(text: string): string | undefined {
  const units: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 };
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g)];
  if (parts.length === 0 || parts.map((part) => part[0]).join("") !== text) return undefined;
  const millis = Math.round(parts.reduce((sum, [, value, unit]) => sum + Number(value) * units[unit], 0));
  if (millis === 0) return "0s";
  if (millis < 1000) return `${millis}ms`;
  const hours = Math.floor(millis / 3_600_000);
  const minutes = Math.floor((millis % 3_600_000) / 60_000);
  const rest = (millis % 60_000) / 1000;
  const seconds = `${Number.isInteger(rest) ? rest : rest.toFixed(3).replace(/0+$/, "")}s`;
  if (hours > 0) return `${hours}h${minutes}m${seconds}`;
  return minutes > 0 ? `${minutes}m${seconds}` : seconds;
}

/** The provider's read of cpus: ParseCPUs to nano-CPUs, then nanoInt64ToDecimalString. */
function cpusAsRead(text: string): string | undefined {
  const match = /^(\d*)(?:\.(\d{0,9}))?$/.exec(text.trim());
  if (!match || (match[1] === "" && (match[2] ?? "") === "")) return undefined;
  const nano = BigInt(match[1] || "0") * 1_000_000_000n + BigInt(((match[2] ?? "") + "000000000").slice(0, 9));
  const nine = `${nano / 1_000_000_000n}.${(nano % 1_000_000_000n).toString().padStart(9, "0")}`;
  if ((nine.match(/0/g) ?? []).length === 9) {
    const tenths = (nano + 50_000_000n) / 100_000_000n;
    return `${tenths / 10n}.${tenths % 10n}`;
  }
  return nine.replace(/0+$/, "");
}

/** The restartPolicy values each controller's API validation accepts for its pod template. */
const RESTART_POLICIES: Record<string, readonly string[]> = {
  Deployment: ["Always"],
  StatefulSet: ["Always"],
  DaemonSet: ["Always"],
  ReplicaSet: ["Always"],
  ReplicationController: ["Always"],
  Job: ["OnFailure", "Never"],
  CronJob: ["OnFailure", "Never"],
};

export const deployabilityPolicies: FundamentPolicy[] = [
  defineStackPolicy({
    name: "k8s-references-resolve",
    description:
      "A Service's selector must match a pod template (and a named targetPort a port name of those pods), an Ingress backend must name a Service and one of its ports, a pod's service account and an autoscaler's target controller must exist, and a NetworkPolicy's podSelector and its same-namespace peers must match a pod template, in the same namespace of the stack.",
    concern: "deployability",
    severity: "medium",
    enforcement: { dev: "advisory", prod: "mandatory" },
    remediation: "Make the selector equal to labels the pod template carries, name the Service, ServiceAccount or controller as the stack creates it, or exempt the object when what it refers to is made outside the stack.",
    validate: (resources, report) => {
      for (const dangling of danglingReferences(resources)) report(dangling.resource, dangling.message);
    },
  }),
  defineResourcePolicy({
    name: "k8s-api-version-served",
    description: "Kubernetes objects must use API versions the API server still serves: extensions/v1beta1, apps/v1beta1 and v1beta2, policy/v1beta1, batch/v1beta1, autoscaling/v2beta2 and the other removed ones are refused at pulumi up.",
    concern: "deployability",
    // High: the preview passes and the update fails halfway ("no matches for kind"), leaving the
    // stack partly applied; the platform's clusters run Kubernetes 1.35.
    severity: "high",
    enforcement: "mandatory",
    remediation: "Use the served version (apps/v1, networking.k8s.io/v1, policy/v1, batch/v1, autoscaling/v2, rbac.authorization.k8s.io/v1, ...) and its field names; `kubectl convert` or the chart's newer release does it for most objects.",
    types: [],
    alsoJudges: { description: "any Kubernetes object under an API version removed from Kubernetes", matches: (type: string): boolean => removedIn(type) !== undefined },
    validate: (resource, report) => {
      const removed = removedIn(resource.type);
      if (removed) report(`apiVersion ${removed.groupVersion} of ${resource.type.split(":").pop() ?? "this kind"} was removed in Kubernetes ${removed.release}: the API server refuses the object`);
    },
  }),
  defineResourcePolicy({
    name: "k8s-selector-matches-template",
    description:
      "A Deployment, StatefulSet, DaemonSet or ReplicaSet (apps/v1) must have a non-empty spec.selector that its own pod template's labels satisfy: the API server refuses any other (\"selector does not match template labels\"), so the preview passes and pulumi up fails.",
    concern: "deployability",
    // High: as with a removed API version, the update stops halfway with the stack partly applied.
    severity: "high",
    enforcement: "mandatory",
    remediation:
      "Make spec.selector.matchLabels a subset of spec.template.metadata.labels (the platform selects on app.kubernetes.io/name); the selector cannot change after creation, so a changed one replaces the controller.",
    types: [...APPS_V1_CONTROLLERS],
    validate: (resource, report) => {
      const selector = readIfKnown(() => at(resource.props, "spec", "selector"));
      const labels = readIfKnown(() => at(resource.props, "spec", "template", "metadata", "labels"));
      if (!selector.known || !labels.known) return;
      const record = asRecord(selector.value);
      if (!record) {
        report("spec.selector is missing: apps/v1 requires it, and the API server refuses the object");
        return;
      }
      if (Object.keys(stringMap(record["matchLabels"])).length === 0 && asRecords(record["matchExpressions"]).length === 0) {
        report("spec.selector is empty: it would select every pod of the namespace, and the API server refuses it");
        return;
      }
      if (!selectorMatches(record, stringMap(labels.value))) {
        report(`spec.selector (${describeSelector(record)}) does not match the pod template's labels (${describeLabels(stringMap(labels.value))}): the API server refuses the object`);
      }
    },
  }),
  defineResourcePolicy({
    name: "k8s-restart-policy-allowed",
    description:
      "A pod template's restartPolicy must be one its controller accepts: Always for Deployments, StatefulSets, DaemonSets, ReplicaSets and ReplicationControllers, OnFailure or Never for Jobs and CronJobs. The API server refuses any other, so the preview passes and pulumi up fails.",
    concern: "deployability",
    // High: as with a mismatched selector, the update stops halfway with the stack partly applied.
    severity: "high",
    enforcement: "mandatory",
    remediation: "Leave restartPolicy out of long-running controllers (it defaults to Always); give Jobs and CronJobs OnFailure or Never.",
    types: POD_CONTROLLER_TYPES,
    alsoJudges: POD_SPEC_SHAPE,
    validate: (resource, report) => {
      const kind = kubernetesKind(resource.type) ?? "";
      // Pods take any policy; custom resources with pod templates set their own rules.
      const allowed = RESTART_POLICIES[kind];
      const pod = podView(resource.type, resource.props);
      if (!pod || allowed === undefined) return;
      const policy = readIfKnown(() => asString(pod.spec["restartPolicy"]));
      if (!policy.known) return;
      if (policy.value === undefined) {
        // Left out, it defaults to Always, which a Job refuses.
        if (!allowed.includes("Always")) report(`restartPolicy is not set, so it defaults to Always: a ${kind}'s pods accept only ${allowed.join(" or ")}, and the API server refuses the object`);
        return;
      }
      if (!allowed.includes(policy.value)) report(`restartPolicy is ${policy.value}: a ${kind}'s pods accept only ${allowed.join(" or ")}, and the API server refuses the object`);
    },
  }),
  defineResourcePolicy({
    name: "no-duplicate-env",
    description: "A container must not give one environment variable two values: Kubernetes keeps the last entry, and the Docker provider holds envs as a set ordered by hash, so which value the container gets there is not the order written.",
    concern: "deployability",
    // Medium: the value a reader of the program sees is not the one the process gets, for a
    // setting that was meant to change (a port, a *_FILE path, a feature switch).
    severity: "medium",
    enforcement: { dev: "advisory", prod: "mandatory" },
    remediation: "Remove all but one entry of the variable; where a stack overrides a default, replace the entry instead of appending one.",
    types: [DOCKER_CONTAINER, ...POD_CONTROLLER_TYPES],
    alsoJudges: POD_SPEC_SHAPE,
    validate: (resource, report) => {
      if (resource.type === DOCKER_CONTAINER) {
        conflictingNames(dockerContainerView(resource.props).env).forEach((name) => report(`envs sets ${name} to two values: the provider keeps envs as a set ordered by hash, so which one Docker applies is not the order written`));
        return;
      }
      for (const { container, label } of podView(resource.type, resource.props)?.containers ?? []) {
        const entries = asRecords(container["env"]).flatMap((entry) => {
          const name = asString(entry["name"]);
          return name === undefined ? [] : [{ name, value: JSON.stringify({ value: entry["value"], valueFrom: entry["valueFrom"] }) }];
        });
        conflictingNames(entries).forEach((name) => report(`${label}: env sets ${name} twice with different values; only the last entry takes effect`));
      }
    },
  }),
  defineResourcePolicy({
    name: "docker-read-only-without-uploads",
    description: "A Docker container with a read-only root must take no uploads: the engine refuses the provider's copy into it.",
    concern: "deployability",
    severity: "high",
    enforcement: "mandatory",
    remediation:
      "Deliver the files through volumes: a never-started carrier container with the same image takes the uploads into volumes mounted at the files' directories, and the read-only container mounts them read-only (the Docker runtime does this for readOnlyRootFilesystem workloads).",
    types: [DOCKER_CONTAINER],
    validate: (resource, report) => {
      const view = dockerContainerView(resource.props);
      if (view.readOnly !== true) return;
      const uploads = readKnown(() => resource.props["uploads"]);
      const count = uploads === SECRET_PLACEHOLDER ? 1 : asRecords(uploads).length;
      if (count > 0) {
        report(
          "readOnly is true and uploads is not empty: the provider copies uploads with PUT /containers/{id}/archive at /, which the engine refuses into a read-only root (\"container rootfs is marked read-only\"), so the container is never created",
        );
      }
    },
  }),
  defineResourcePolicy({
    name: "docker-probe-program-in-image",
    description: "A Docker healthcheck must run only programs its image ships.",
    concern: "deployability",
    severity: "high",
    enforcement: "mandatory",
    remediation:
      "Probe with a program the image has (policies/model/image-programs.ts lists each pinned image's), e.g. pg_isready or wget instead of bash's /dev/tcp, or record the image's programs there after reading its Dockerfile.",
    types: [DOCKER_CONTAINER],
    validate: (resource, report) => {
      const view = dockerContainerView(resource.props);
      const tests = asStrings(asRecord(resource.props["healthcheck"])?.["tests"]);
      const image = view.labels.get("fundament.image") ?? view.image;
      if (tests.length === 0 || image === undefined) return;
      const facts = factsForImage(image);
      if (!facts) return;
      const missing = healthcheckPrograms(tests).filter((program) => !facts.programs.includes(program));
      if (missing.length > 0) {
        report(`healthcheck runs ${missing.join(" and ")}, which ${image} does not ship (it has: ${facts.programs.join(", ") || "no shell or client"}): the container never turns healthy`);
      }
    },
  }),
  defineResourcePolicy({
    name: "docker-values-in-read-back-form",
    description: "Docker container values must be sent in the form the provider reads back, or every update replaces the container.",
    concern: "deployability",
    severity: "medium",
    enforcement: "mandatory",
    remediation:
      'Send cpus as the provider prints it ("2.0", "0.5", "1.25"), healthcheck durations as Go prints them ("5m0s", "10s"), capabilities as CAP_NAME, and no healthcheck startInterval unless every engine speaks API 1.44 (components/runtime/docker-read-back.ts).',
    types: [DOCKER_CONTAINER],
    validate: (resource, report) => {
      const cpus = asString(readKnown(() => resource.props["cpus"]));
      if (cpus !== undefined) {
        const read = cpusAsRead(cpus);
        if (read !== cpus) report(`cpus "${cpus}" reads back as "${read ?? "an error"}": the provider would replace the container on every update`);
      }
      const healthcheck = asRecord(resource.props["healthcheck"]);
      for (const field of ["interval", "timeout", "startPeriod"]) {
        const value = asString(readKnown(() => healthcheck?.[field]));
        if (value === undefined) continue;
        const read = goDurationAsRead(value);
        if (read !== value) report(`healthcheck.${field} "${value}" reads back as "${read ?? "an error"}": the provider would replace the container on every update`);
      }
      const startInterval = asString(readKnown(() => healthcheck?.["startInterval"]));
      if (startInterval !== undefined && goDurationAsRead(startInterval) !== "0s") {
        report(`healthcheck.startInterval "${startInterval}" is refused by the Docker client below engine API 1.44 (Debian's docker.io 20.10 speaks 1.41) and read back as "0s" there`);
      }
      const capabilities = asRecord(resource.props["capabilities"]);
      for (const field of ["adds", "drops"]) {
        const sent = asStrings(capabilities?.[field]);
        const stored = sent.map((name) => (name.toUpperCase() === "ALL" || name.toUpperCase().startsWith("CAP_") ? name.toUpperCase() : `CAP_${name.toUpperCase()}`));
        const differs = sent.filter((name, index) => name !== stored[index]);
        if (differs.length > 0) report(`capabilities.${field} ${differs.join(", ")} read back as ${differs.map((name) => stored[sent.indexOf(name)]).join(", ")}: the provider would replace the container on every update`);
      }
    },
  }),
  defineResourcePolicy({
    name: "docker-job-logs-not-in-state",
    description: "A Docker job must not record its output (containerLogs) in the state.",
    concern: "deployability",
    severity: "high",
    enforcement: "mandatory",
    remediation: "Set logs: false (attach: true still waits for the job) and read the output with docker logs; containerLogs is a plain output.",
    types: [DOCKER_CONTAINER],
    validate: (resource, report) => {
      if (asBoolean(resource.props["attach"]) === true && asBoolean(resource.props["logs"]) === true) {
        report("logs is true: the provider stores the job's whole output in the state as the plain output containerLogs, with any credential the job prints");
      }
    },
  }),
  defineStackPolicy({
    name: "stack-built-image-by-digest",
    description: "A container must name an image the stack builds by its digest or id, not by its name.",
    concern: "deployability",
    severity: "high",
    enforcement: "mandatory",
    remediation: "Use the docker.Image's repoDigest (pushed) or image id (local) as the container's image, so a rebuild replaces the container.",
    validate: (resources, report) => {
      const built = new Map<string, string>();
      for (const resource of resources) {
        if (resource.type !== DOCKER_IMAGE) continue;
        const name = asString(readKnown(() => resource.props["imageName"]));
        if (name !== undefined) built.set(name, resource.name);
      }
      if (built.size === 0) return;
      const judge = (resource: (typeof resources)[number], image: string | undefined, where: string): void => {
        const builder = image === undefined ? undefined : built.get(image);
        if (builder !== undefined) {
          report(resource, `${where}image "${image}" is the name of the image docker.Image ${builder} builds: a rebuild keeps the name, so the provider never replaces what runs it`);
        }
      };
      for (const resource of resources) {
        if (resource.type === DOCKER_CONTAINER) judge(resource, asString(readKnown(() => resource.props["image"])), "");
        else if (carriesPodSpec(resource.type, resource.props)) {
          for (const { container, label } of podView(resource.type, resource.props)?.containers ?? []) judge(resource, asString(container["image"]), `${label}: `);
        }
      }
    },
  }),
];

function describeLabels(labels: Record<string, string>): string {
  const entries = Object.entries(labels);
  return entries.length === 0 ? "none" : entries.map(([key, value]) => `${key}=${value}`).join(", ");
}

function describeSelector(selector: Record<string, unknown>): string {
  const parts = Object.entries(stringMap(selector["matchLabels"])).map(([key, value]) => `${key}=${value}`);
  for (const expression of asRecords(selector["matchExpressions"])) {
    parts.push(`${asString(expression["key"]) ?? "?"} ${asString(expression["operator"]) ?? "?"} ${asStrings(expression["values"]).join("|")}`.trim());
  }
  return parts.join(", ");
}
