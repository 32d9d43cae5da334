import { EngineApi, EngineApiError, compareVersions } from "./engine-api";

/**
 * The Docker provider's create path, replayed against a real engine with the inputs the mock
 * engine recorded. Read from kreuzwerker/terraform-provider-docker v4.5.0 (what
 * @pulumi/docker 5 bridges), internal/provider:
 * - docker_network: NetworkCreate(name, {Labels, Driver, Options, Internal, Attachable, ...});
 * - docker_volume: VolumeCreate({Name, Labels, Driver, DriverOpts});
 * - docker_container (resourceDockerContainerCreate): find the image (the provider would pull a
 *   missing one; here a missing image fails), ContainerCreate(config, hostConfig, {}, nil, name)
 *   with network_mode defaulting to "bridge"; when networks_advanced is set, disconnect from
 *   "bridge" and NetworkConnect each network with its aliases; then every upload as its own tar
 *   archive (one regular file named by its absolute path, mode from `permissions`) extracted by
 *   CopyToContainer at "/"; then ContainerStart unless start = false.
 * - the Go client (docker v28.5) in ContainerCreate refuses options the negotiated API version
 *   lacks (a health-check start interval needs 1.44) and normalises capability names (CAP_ prefix).
 * `owner`/`group` of an upload come from the provider release @pulumi/docker 5.2 bridges, newer
 * than the source read here; its documentation says numeric ids are used directly, which for a
 * tar archive means the header's uid and gid, and that is what is sent.
 *
 * Provider-side behaviour with no engine call at create (must_run, destroy_grace_seconds, the
 * wait for a healthy state, attach's wait for the exit) is not replayed: the placeholder image
 * cannot answer a real probe or finish a real job.
 */

type Inputs = Record<string, unknown>;

/** The Go client's maximum API version (docker/docker v28.5). */
export const CLIENT_API_VERSION = "1.51";

const CONTAINER_KEYS_SENT = new Set([
  "name", "image", "entrypoints", "command", "envs", "user", "ports", "workingDir", "volumes", "labels", "healthcheck",
  "privileged", "restart", "maxRetryCount", "readOnly", "logDriver", "logOpts", "tmpfs", "capabilities", "securityOpts",
  "memory", "memorySwap", "shmSize", "cpus", "networkMode", "networksAdvanced", "uploads", "start", "stopSignal", "stopTimeout",
  "init", "gpus", "hostname", "domainname", "tty", "stdinOpen", "rm",
]);
/** Provider-side only: acted on after create or at delete, never sent at create. */
const CONTAINER_KEYS_PROVIDER_SIDE = new Set(["mustRun", "destroyGraceSeconds", "wait", "waitTimeout", "attach", "logs", "removeVolumes", "containerReadRefreshTimeoutMilliseconds"]);

/** Go's time.ParseDuration for the forms the stack can send ("300s", "5m0s", "1m30s", "500ms"). */
export function goDurationNanos(text: string): number {
  const units: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== text) throw new Error(`not a Go duration: ${text}`);
  return Math.round(parts.reduce((sum, p) => sum + Number(p[1]) * units[p[2]], 0));
}

/** opts.ParseCPUs: a decimal number of CPUs to NanoCPUs. */
function nanoCpus(cpus: string): number {
  const value = Number(cpus);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`cpus: invalid value ${cpus}`);
  return Math.round(value * 1e9);
}

function normalizeCapabilities(caps: string[]): string[] {
  return caps.map((c) => {
    const upper = c.toUpperCase();
    return upper === "ALL" || upper.startsWith("CAP_") ? upper : `CAP_${upper}`;
  });
}

const labelMap = (labels: unknown): Record<string, string> => Object.fromEntries(((labels as { label: string; value: string }[]) ?? []).map((l) => [l.label, l.value]));

export interface CreateRequest {
  name: string;
  body: Record<string, unknown>;
}

/** The ContainerCreate call the provider makes for these inputs (image already resolved). */
export function containerCreateRequest(inputs: Inputs, image: string, apiVersion: string, commandOverride?: { entrypoint: string[]; cmd: string[] }): CreateRequest {
  const unknown = Object.keys(inputs).filter((key) => inputs[key] !== undefined && !CONTAINER_KEYS_SENT.has(key) && !CONTAINER_KEYS_PROVIDER_SIDE.has(key));
  if (unknown.length > 0) throw new Error(`container ${String(inputs.name)}: the replay does not know the provider's handling of ${unknown.join(", ")}; read it in the provider's create function and add it`);
  const exposed: Record<string, object> = {};
  const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const port of (inputs.ports as { internal: number; external?: number; ip?: string; protocol?: string }[]) ?? []) {
    const key = `${port.internal}/${port.protocol ?? "tcp"}`;
    exposed[key] = {};
    if (port.external !== undefined || port.ip !== undefined) (bindings[key] ??= []).push({ HostIp: port.ip ?? "", HostPort: port.external !== undefined ? String(port.external) : "" });
  }
  const volumes: Record<string, object> = {};
  const binds: string[] = [];
  for (const volume of (inputs.volumes as { volumeName?: string; hostPath?: string; containerPath: string; readOnly?: boolean }[]) ?? []) {
    volumes[volume.containerPath] = {};
    const source = volume.hostPath ?? volume.volumeName;
    if (source) binds.push(`${source}:${volume.containerPath}:${volume.readOnly ? "ro" : "rw"}`);
  }
  const health = inputs.healthcheck as { tests: string[]; interval?: string; timeout?: string; startPeriod?: string; startInterval?: string; retries?: number } | undefined;
  const healthcheck = health
    ? {
        Test: health.tests,
        Interval: health.interval ? goDurationNanos(health.interval) : 0,
        Timeout: health.timeout ? goDurationNanos(health.timeout) : 0,
        StartPeriod: health.startPeriod ? goDurationNanos(health.startPeriod) : 0,
        StartInterval: health.startInterval ? goDurationNanos(health.startInterval) : 0,
        Retries: health.retries ?? 0,
      }
    : undefined;
  if (healthcheck && healthcheck.StartInterval !== 0 && compareVersions(apiVersion, "1.44") < 0) {
    throw new Error(`"specify health-check start interval" requires API version 1.44, but the Docker daemon API version is ${apiVersion}`);
  }
  const caps = (inputs.capabilities as { adds?: string[]; drops?: string[] } | undefined) ?? undefined;
  const swap = inputs.memorySwap as number | undefined;
  const body: Record<string, unknown> = {
    Image: image,
    Hostname: (inputs.hostname as string) ?? "",
    Domainname: (inputs.domainname as string) ?? "",
    Tty: inputs.tty ?? false,
    OpenStdin: inputs.stdinOpen ?? false,
    StopSignal: inputs.stopSignal ?? "",
    StopTimeout: inputs.stopTimeout,
    Env: inputs.envs,
    Cmd: commandOverride ? commandOverride.cmd : inputs.command,
    Entrypoint: commandOverride ? commandOverride.entrypoint : inputs.entrypoints,
    User: inputs.user,
    ExposedPorts: Object.keys(exposed).length > 0 ? exposed : undefined,
    WorkingDir: inputs.workingDir,
    Volumes: Object.keys(volumes).length > 0 ? volumes : undefined,
    Labels: inputs.labels ? labelMap(inputs.labels) : undefined,
    Healthcheck: healthcheck,
    HostConfig: {
      Privileged: inputs.privileged ?? false,
      PublishAllPorts: false,
      RestartPolicy: { Name: inputs.restart ?? "no", MaximumRetryCount: inputs.maxRetryCount ?? 0 },
      Mounts: [],
      AutoRemove: inputs.rm ?? false,
      ReadonlyRootfs: inputs.readOnly ?? false,
      LogConfig: { Type: inputs.logDriver ?? "json-file", Config: inputs.logOpts },
      Tmpfs: inputs.tmpfs,
      PortBindings: Object.keys(bindings).length > 0 ? bindings : undefined,
      Binds: binds.length > 0 ? binds : undefined,
      CapAdd: caps ? normalizeCapabilities(caps.adds ?? []) : undefined,
      CapDrop: caps ? normalizeCapabilities(caps.drops ?? []) : undefined,
      SecurityOpt: inputs.securityOpts,
      Memory: inputs.memory !== undefined ? (inputs.memory as number) * 1024 * 1024 : undefined,
      MemorySwap: swap !== undefined ? (swap > 0 ? swap * 1024 * 1024 : swap) : undefined,
      ShmSize: inputs.shmSize !== undefined ? (inputs.shmSize as number) * 1024 * 1024 : undefined,
      NanoCpus: inputs.cpus !== undefined ? nanoCpus(String(inputs.cpus)) : undefined,
      NetworkMode: inputs.networkMode ?? "bridge",
      Init: inputs.init ?? false,
    },
    NetworkingConfig: {},
  };
  if (inputs.gpus !== undefined) throw new Error(`container ${String(inputs.name)}: gpus cannot be rehearsed without a GPU`);
  return { name: String(inputs.name), body };
}

/** One upload as the provider archives it: a single regular file named by its absolute path. */
export function uploadArchive(upload: { file: string; content?: string; contentBase64?: string; permissions?: string; executable?: boolean; owner?: string; group?: string }): Buffer {
  const content = upload.contentBase64 !== undefined ? Buffer.from(upload.contentBase64, "base64") : Buffer.from(upload.content ?? "", "utf8");
  const mode = upload.permissions ? parseInt(upload.permissions, 8) : upload.executable ? 0o744 : 0o644;
  const numeric = (id: string | undefined, what: string): number => {
    if (id === undefined) return 0;
    if (!/^\d+$/.test(id)) throw new Error(`upload ${upload.file}: ${what} ${id} is a name; the rehearsal resolves numeric ids only`);
    return Number(id);
  };
  const header = Buffer.alloc(512);
  const field = (offset: number, length: number, value: string) => header.write(value, offset, length, "utf8");
  const octal = (offset: number, length: number, value: number) => field(offset, length, `${value.toString(8).padStart(length - 1, "0")}\0`);
  if (Buffer.byteLength(upload.file) > 100) throw new Error(`upload ${upload.file}: names over 100 bytes need the PAX form, not replayed`);
  field(0, 100, upload.file);
  octal(100, 8, mode);
  octal(108, 8, numeric(upload.owner, "owner"));
  octal(116, 8, numeric(upload.group, "group"));
  octal(124, 12, content.length);
  octal(136, 12, Math.floor(Date.now() / 1000));
  field(148, 8, "        ");
  field(156, 1, "0");
  field(257, 6, "ustar\0");
  field(263, 2, "00");
  let sum = 0;
  for (const byte of header) sum += byte;
  field(148, 8, `${sum.toString(8).padStart(6, "0")}\0 `);
  const padding = Buffer.alloc((512 - (content.length % 512)) % 512);
  return Buffer.concat([header, content, padding, Buffer.alloc(1024)]);
}

export interface ReplayedContainer {
  /** The resource name (the Workload's name). */
  resource: string;
  name: string;
  id?: string;
  started: boolean;
  inputs: Inputs;
  /** What failed, in the provider's words, when a step did. */
  failure?: string;
}

export interface ContainerReplayOptions {
  image: string;
  apiVersion: string;
  commandOverride?: { entrypoint: string[]; cmd: string[] };
}

/** create → disconnect bridge → connect networks → uploads → start, stopping at the first failing step. */
export async function replayContainer(api: EngineApi, resource: string, inputs: Inputs, options: ContainerReplayOptions): Promise<ReplayedContainer> {
  const replayed: ReplayedContainer = { resource, name: String(inputs.name), started: false, inputs };
  let step = "create";
  try {
    const request = containerCreateRequest(inputs, options.image, options.apiVersion, options.commandOverride);
    const created = await api.call<{ Id: string }>("POST", "/containers/create", { query: { name: request.name }, json: request.body });
    replayed.id = created.Id;
    const networks = (inputs.networksAdvanced as { name: string; aliases?: string[]; ipv4Address?: string; ipv6Address?: string }[]) ?? [];
    if (networks.length > 0) {
      step = "disconnect from the default bridge";
      await api.call("POST", "/networks/bridge/disconnect", { json: { Container: created.Id, Force: false } }).catch((error: unknown) => {
        if (!(error instanceof EngineApiError && /is not connected to the network bridge/.test(error.detail))) throw error;
      });
      for (const network of networks) {
        step = `connect to ${network.name}`;
        await api.call("POST", `/networks/${network.name}/connect`, {
          json: { Container: created.Id, EndpointConfig: { Aliases: network.aliases, IPAMConfig: { IPv4Address: network.ipv4Address ?? "", IPv6Address: network.ipv6Address ?? "" } } },
        });
      }
    }
    for (const upload of (inputs.uploads as Parameters<typeof uploadArchive>[0][]) ?? []) {
      step = `upload ${upload.file}`;
      await api.call("PUT", `/containers/${created.Id}/archive`, { query: { path: "/", noOverwriteDirNonDir: "true" }, body: uploadArchive(upload), contentType: "application/x-tar" });
    }
    if (inputs.start !== false) {
      step = "start";
      await api.call("POST", `/containers/${created.Id}/start`);
      replayed.started = true;
    }
  } catch (error) {
    replayed.failure = `${step}: ${error instanceof Error ? error.message : String(error)}`;
  }
  return replayed;
}

export async function replayNetwork(api: EngineApi, inputs: Inputs): Promise<void> {
  await api.call("POST", "/networks/create", {
    json: {
      Name: inputs.name,
      CheckDuplicate: true,
      Driver: inputs.driver ?? "",
      Options: inputs.options,
      Internal: inputs.internal ?? false,
      Attachable: inputs.attachable ?? false,
      Ingress: inputs.ingress ?? false,
      EnableIPv6: inputs.ipv6,
      Labels: labelMap(inputs.labels),
    },
  });
}

export async function replayVolume(api: EngineApi, inputs: Inputs): Promise<void> {
  await api.call("POST", "/volumes/create", { json: { Name: inputs.name, Labels: labelMap(inputs.labels), Driver: inputs.driver ?? "", DriverOpts: inputs.driverOpts } });
}
