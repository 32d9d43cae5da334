import { asRecord, asRecords, asString, asStrings, asBoolean, asNumber, type PropertyRecord } from "./property-values";
import { asWorkloadRole, isDataWorkload, knownImageOf, type KnownImage, type WorkloadRole } from "./data-services";
import { parseImageReference } from "./image-reference";
import { knownRecords, knownStrings, lazyView, readKnown } from "./unknown-values";

export const DOCKER_CONTAINER = "docker:index/container:Container";
export const DOCKER_NETWORK = "docker:index/network:Network";
export const DOCKER_REMOTE_IMAGE = "docker:index/remoteImage:RemoteImage";

export interface EnvEntry {
  name: string;
  value: string;
}

export interface PublishedPort {
  internal: number | undefined;
  external: number | undefined;
  /** Host interface; Docker binds every interface when it is missing. */
  ip: string | undefined;
}

export interface HostVolume {
  hostPath: string;
  containerPath: string | undefined;
  readOnly: boolean;
}

export interface ConfigFile {
  path: string;
  content: string | undefined;
}

/** The parts of a docker.Container's inputs the rules read, normalised once. */
export interface DockerContainerView {
  image: string | undefined;
  knownImage: KnownImage | undefined;
  role: WorkloadRole | undefined;
  /** Labelled role "data", or, unlabelled, an official data-store image. */
  isData: boolean;
  /** Labelled role "gateway", or, unlabelled, the Traefik image. */
  isGateway: boolean;
  workload: string | undefined;
  env: EnvEntry[];
  labels: Map<string, string>;
  networks: string[];
  ports: PublishedPort[];
  publishAllPorts: boolean;
  /** Entrypoint followed by command, as the process sees its argv. */
  argv: string[];
  user: string | undefined;
  privileged: boolean | undefined;
  readOnly: boolean | undefined;
  memoryMiB: number | undefined;
  capabilityAdds: string[];
  capabilityDrops: string[];
  securityOpts: string[];
  hostVolumes: HostVolume[];
  files: ConfigFile[];
  networkMode: string | undefined;
  pidMode: string | undefined;
  ipcMode: string | undefined;
}

export function dockerContainerView(props: PropertyRecord): DockerContainerView {
  const view: DockerContainerView = lazyView<DockerContainerView>({
    image: () => asString(props["image"]),
    // An image not known yet during preview leaves the workload label to say what runs.
    knownImage: () => knownImageOf(imageReferenceOf(readKnown(() => view.image), view.workload)),
    role: () => asWorkloadRole(view.labels.get("fundament.role")),
    isData: () => isDataWorkload(view.role, () => view.knownImage),
    isGateway: () => view.role === "gateway" || (view.role === undefined && view.knownImage === "traefik"),
    workload: () => view.labels.get("fundament.workload"),
    env: () => knownStrings(() => props["envs"]).map(parseEnvEntry),
    labels: () => labelMap(props["labels"]),
    networks: () =>
      asRecords(props["networksAdvanced"]).flatMap((network) => {
        const name = asString(network["name"]);
        return name === undefined ? [] : [name];
      }),
    ports: () =>
      asRecords(props["ports"]).map((port) => ({
        internal: asNumber(port["internal"]),
        external: asNumber(port["external"]),
        ip: asString(port["ip"]),
      })),
    publishAllPorts: () => asBoolean(props["publishAllPorts"]) === true,
    argv: () => [...asStrings(props["entrypoints"]), ...asStrings(props["command"])],
    user: () => asString(props["user"]),
    privileged: () => asBoolean(props["privileged"]),
    readOnly: () => asBoolean(props["readOnly"]),
    memoryMiB: () => asNumber(props["memory"]),
    capabilityAdds: () => asStrings(asRecord(props["capabilities"])?.["adds"]).map(normaliseCapability),
    capabilityDrops: () => asStrings(asRecord(props["capabilities"])?.["drops"]).map(normaliseCapability),
    securityOpts: () => asStrings(props["securityOpts"]),
    hostVolumes: () => [
      ...asRecords(props["volumes"]).flatMap((volume): HostVolume[] => {
        const hostPath = asString(volume["hostPath"]);
        if (hostPath === undefined) return [];
        return [{ hostPath, containerPath: asString(volume["containerPath"]), readOnly: asBoolean(volume["readOnly"]) === true }];
      }),
      ...asRecords(props["mounts"]).flatMap((mount): HostVolume[] => {
        const source = asString(mount["source"]);
        if (asString(mount["type"]) !== "bind" || source === undefined) return [];
        return [{ hostPath: source, containerPath: asString(mount["target"]), readOnly: asBoolean(mount["readOnly"]) === true }];
      }),
    ],
    files: () =>
      knownRecords(() => props["uploads"]).flatMap((upload) => {
        const path = readKnown(() => asString(upload["file"]));
        // Content computed from other resources is not known during preview, and is no literal.
        return path === undefined ? [] : [{ path, content: readKnown(() => asString(upload["content"])) }];
      }),
    networkMode: () => asString(props["networkMode"]),
    pidMode: () => asString(props["pidMode"]),
    ipcMode: () => asString(props["ipcMode"]),
  });
  return view;
}

/**
 * The reference the rules judge a container's image by. A container built from a docker.RemoteImage
 * names the image by id (sha256:...), which says nothing about what runs; the platform's workload
 * label (redis, mongo, postgres, ...) then stands in for the repository.
 */
export function imageReferenceOf(image: string | undefined, workload: string | undefined): string | undefined {
  if ((image === undefined || parseImageReference(image).isImageId) && workload !== undefined) return workload;
  return image;
}

/** Docker's "K=V" form; a bare "K" passes the variable through from the engine's environment. */
export function parseEnvEntry(entry: string): EnvEntry {
  const index = entry.indexOf("=");
  return index === -1 ? { name: entry, value: "" } : { name: entry.slice(0, index), value: entry.slice(index + 1) };
}

/** The provider takes labels as [{label, value}]; a map is accepted too, as hand-written fixtures use it. */
function labelMap(value: unknown): Map<string, string> {
  const labels = new Map<string, string>();
  for (const entry of asRecords(value)) {
    const label = asString(entry["label"]);
    const text = asString(entry["value"]);
    if (label !== undefined && text !== undefined) labels.set(label, text);
  }
  const record = asRecord(value);
  if (record) {
    for (const [label, text] of Object.entries(record)) {
      if (typeof text === "string") labels.set(label, text);
    }
  }
  return labels;
}

/** Docker and Kubernetes both accept "CAP_SYS_ADMIN" and "SYS_ADMIN"; compare on the short form. */
export function normaliseCapability(name: string): string {
  const upper = name.toUpperCase();
  return upper.startsWith("CAP_") ? upper.slice(4) : upper;
}
