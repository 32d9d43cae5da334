import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { createHash } from "node:crypto";
import { renderCronLoop } from "./cron-loop";
import { dockerCapabilities, dockerCpus, goDuration } from "./docker-read-back";
import { fileVolumeDirectories } from "./docker-file-volumes";
import { factsForImage } from "./image-facts";
import { dockerHealthTest, probeTiming, startupBudgetSeconds } from "./probe-command";
import { DeployedWorkload, Endpoint, INTERNAL_ZONES, Job, Runtime, ScheduledJob, Workload, WorkloadRole, Zone, offeredZones, portsByZone, portTransports, roleOf } from "./workload";

export interface DockerRuntimeArgs {
  /** Prefix of container, volume and network names: several environments can share one engine. */
  environment: string;
  networks: Record<Zone, docker.Network>;
  /** Host address that ports with `publish: "host"` bind to. */
  publishAddress: string;
  /** Also publish data services' ports (for psql/redis-cli from the host); off unless configured. */
  publishDataPorts?: boolean;
  /**
   * The network a container joins when it publishes ports while on internal networks only, so
   * the engine has a gateway endpoint to map them on (zones.ts, hostAccessNetwork); made on the
   * first call.
   */
  hostAccess?: () => docker.Network;
  provider?: docker.Provider;
}

type RuntimeOptions = pulumi.CustomResourceOptions & { parent: pulumi.Resource };

/** The parts of a Workload, Job or ScheduledJob that make one container. */
type ContainerSpec = Omit<Workload, "health" | "ports"> & Partial<Pick<Workload, "health" | "ports">>;

const LOG_OPTS = { "max-size": "10m", "max-file": "5" };

/** Renders Workloads to docker.Container (+ volumes, uploads, healthcheck) on one network per zone. */
export class DockerRuntime implements Runtime {
  readonly target = "docker" as const;

  constructor(private readonly args: DockerRuntimeArgs) {}

  deploy(workload: Workload, opts: RuntimeOptions): DeployedWorkload {
    portsByZone(workload); // rejects a port offered in a zone the workload is not in
    const probed = workload.dockerHealthcheck !== "none";
    const container = this.container(probed ? workload : { ...workload, health: undefined }, roleOf(workload), opts, {
      restart: "unless-stopped",
      // Dependants start once this is healthy; without a healthcheck Docker has no such state.
      wait: probed,
      waitTimeout: probed ? startupBudgetSeconds(workload.health.startup) + 60 : undefined,
    });
    const deployed = this.deployed(workload, [container]);
    // Read back after creation; the mock engine and a preview leave it empty.
    return { ...deployed, addresses: container.networkDatas.apply((networks) => (networks ?? []).map((n) => n.ipAddress).filter((a) => a !== undefined && a !== "")) };
  }

  run(job: Job, opts: RuntimeOptions): DeployedWorkload {
    const container = this.container(job, roleOf(job, true), opts, {
      restart: "no",
      mustRun: false,
      // Wait for the job to finish, but keep its output out of the state: a job may print what it
      // was given (mc admin user add prints the access key), and containerLogs is a plain output.
      attach: true,
      logs: false,
    });
    // A one-shot container that failed must fail the deployment, not pass silently. The provider
    // has already recorded the container by then, and a later `up` with the same inputs neither
    // reruns nor forgets it: the message names the command that reruns it.
    pulumi.all([container.exitCode, container.urn]).apply(([code, urn]) => {
      if (code !== undefined && code !== null && code !== 0) throw new Error(jobFailure(job.name, this.containerName(job.name), code, urn));
    });
    return this.deployed(job, [container]);
  }

  schedule(job: ScheduledJob, opts: RuntimeOptions): DeployedWorkload {
    const command = [...(job.command ?? []), ...(job.args ?? [])];
    const loop: ContainerSpec = {
      ...job,
      command: ["/bin/sh", "/etc/fundament/schedule.sh"],
      args: undefined,
      files: [...(job.files ?? []), { path: "/etc/fundament/schedule.sh", content: renderCronLoop(job.schedule, command) }],
      stopGracePeriodSeconds: job.stopGracePeriodSeconds,
    };
    const container = this.container(loop, roleOf(job, true), opts, { restart: "unless-stopped" });
    return this.deployed(job, [container]);
  }

  private containerName(name: string): string {
    return `${this.args.environment}-${name}`;
  }

  private deployed(workload: { name: string; ports?: Workload["ports"] }, resources: pulumi.Resource[]): DeployedWorkload {
    const host = pulumi.output(workload.name);
    return {
      name: workload.name,
      host,
      resources,
      endpoint: (portName: string): pulumi.Output<Endpoint> => {
        const port = workload.ports?.find((p) => p.name === portName);
        if (!port) throw new Error(`workload ${workload.name} has no port named ${portName}`);
        return pulumi.output({ host: workload.name, port: port.port });
      },
    };
  }

  private container(
    spec: ContainerSpec,
    role: WorkloadRole,
    opts: RuntimeOptions,
    lifecycle: Partial<docker.ContainerArgs>,
  ): docker.Container {
    const childOpts: pulumi.CustomResourceOptions = {
      parent: opts.parent,
      provider: this.args.provider,
      dependsOn: [...toArray(opts.dependsOn), ...(spec.dependsOn ?? []).flatMap((d) => d.resources)],
    };
    const imageId = spec.localImage
      ? pulumi.output(spec.image)
      : new docker.RemoteImage(`${spec.name}-image`, { name: spec.image, keepLocally: true }, { parent: opts.parent, provider: this.args.provider }).imageId;
    const volumes = (spec.storage ?? []).map((storage) => {
      if (storage.from !== undefined) {
        return { volumeName: pulumi.output(`${this.containerName(storage.from)}-${storage.name}`), containerPath: storage.path, readOnly: true };
      }
      const volume = new docker.Volume(
        `${spec.name}-${storage.name}`,
        { name: `${this.containerName(spec.name)}-${storage.name}`, labels: [{ label: "fundament.workload", value: spec.name }] },
        { parent: opts.parent, provider: this.args.provider, protect: false },
      );
      return { volumeName: volume.name, containerPath: storage.path, readOnly: false };
    });
    // Binds of the host, read-only; a bind of "/" is recursive, and before engine 25 its submounts
    // keep their own flags: what protects them is the process's user and dropped capabilities.
    const hostBinds = (spec.hostMounts ?? []).map((mount) => ({ hostPath: mount.hostPath, containerPath: mount.path, readOnly: true }));
    const owner = spec.user ? String(spec.user.uid) : undefined;
    const group = spec.user ? String(spec.user.gid) : undefined;
    const uploads = (spec.files ?? []).map((file) => ({
      file: file.path,
      content: file.secret ? pulumi.secret(file.content) : file.content,
      permissions: (file.mode ?? (file.secret ? 0o400 : 0o444)).toString(8).padStart(4, "0"),
      owner,
      group,
    }));
    const readOnly = spec.readOnlyRootFilesystem ?? false;
    const readiness = spec.health?.readiness;
    const timing = readiness ? probeTiming(readiness) : undefined;
    const healthcheck =
      readiness && timing
        ? {
            tests: dockerHealthTest(readiness, this.probeSubject(spec)),
            // Go's duration form: the provider reads these back with time.Duration.String().
            interval: goDuration(timing.periodSeconds),
            timeout: goDuration(timing.timeoutSeconds),
            retries: timing.failureThreshold,
            startPeriod: goDuration(startupBudgetSeconds(spec.health?.startup)),
            // No startInterval: the client refuses it below engine API 1.44 (Debian's 20.10 is 1.41).
          }
        : undefined;
    const process: docker.ContainerArgs = {
      image: imageId,
      entrypoints: spec.command,
      command: spec.args,
      envs: Object.entries(spec.env ?? {}).map(([key, value]) => pulumi.interpolate`${key}=${value}`),
      memory: spec.resources.memoryMiB,
      memorySwap: spec.resources.memoryMiB,
      cpus: dockerCpus(spec.resources.cpu),
      user: spec.user && !spec.startsAsRoot ? `${spec.user.uid}:${spec.user.gid}` : undefined,
      privileged: false,
      securityOpts: ["no-new-privileges:true"],
      capabilities: { drops: ["ALL"], adds: dockerCapabilities(spec.capabilities ?? []) },
      logDriver: "json-file",
      logOpts: LOG_OPTS,
    };
    const labels: { label: string; value: pulumi.Input<string> }[] = [
      { label: "fundament.workload", value: spec.name },
      // The container's image is a RemoteImage's id; the pinned reference says what runs (policies read it).
      { label: "fundament.image", value: spec.image },
      { label: "fundament.role", value: role },
      { label: "fundament.environment", value: this.args.environment },
      ...spec.zones.map((zone) => ({ label: `fundament.zone.${zone}`, value: "true" })),
      // Docker networks cannot limit ports; the labels record which zones each port is for (README: Zones).
      ...(spec.ports ?? []).flatMap((port) => [
        { label: `fundament.port.${port.name}`, value: String(port.port) },
        { label: `fundament.port.${port.name}.zones`, value: offeredZones(spec, port).join(",") },
      ]),
    ];
    // Containers carry fixed names, so a replacement must remove the old one before creating its successor.
    const containerOpts: pulumi.CustomResourceOptions = { ...childOpts, deleteBeforeReplace: true, additionalSecretOutputs: ["containerLogs"] };

    let fileDelivery: { uploads: typeof uploads; volumes: typeof volumes; labels: typeof labels } = { uploads, volumes: [], labels: [] };
    if (readOnly && uploads.length > 0) {
      const filesName = `${spec.name}-files`;
      const directories = fileVolumeDirectories(
        spec.name,
        uploads.map((upload) => upload.file),
        (spec.storage ?? []).map((storage) => storage.path),
      );
      // The image's digest in the volume name: Docker copies the image's content at the path into
      // an empty volume on first mount, so a new image starts from fresh volumes.
      const imageKey = pulumi.output(imageId).apply((id) => createHash("sha256").update(id).digest("hex").slice(0, 12));
      const fileVolumes = directories.map((directory) => ({
        directory,
        volume: new docker.Volume(
          `${filesName}-${directory.slug}`,
          {
            name: pulumi.interpolate`${this.containerName(filesName)}-${directory.slug}-${imageKey}`,
            labels: [
              { label: "fundament.workload", value: spec.name },
              { label: "fundament.files", value: directory.path },
            ],
          },
          { parent: opts.parent, provider: this.args.provider },
        ),
      }));
      // Never started: it exists so the provider can extract the uploads into the volumes (its
      // root is writable), owned by the server's user and with the modes the server needs.
      const carrier = new docker.Container(
        filesName,
        {
          ...process,
          name: this.containerName(filesName),
          start: false,
          mustRun: false,
          restart: "no",
          networkMode: "none",
          readOnly: false,
          uploads,
          volumes: fileVolumes.map(({ directory, volume }) => ({ volumeName: volume.name, containerPath: directory.path, readOnly: false })),
          // No zone or port labels: it joins no network and serves nothing.
          labels: [
            ...labels.filter((l) => !l.label.startsWith("fundament.zone.") && !l.label.startsWith("fundament.port.")),
            { label: "fundament.files-for", value: this.containerName(spec.name) },
          ],
        },
        // It never runs, so it waits for nothing but what its caller named (the image build).
        { ...containerOpts, dependsOn: toArray(opts.dependsOn) },
      );
      fileDelivery = {
        uploads: [],
        volumes: fileVolumes.map(({ directory, volume }) => ({ volumeName: volume.name, containerPath: directory.path, readOnly: true })),
        // The carrier's id changes whenever a file does (uploads force a new carrier), and labels
        // force a new container: the server restarts onto the new files.
        labels: [
          { label: "fundament.files-from", value: this.containerName(filesName) },
          { label: "fundament.files-revision", value: carrier.id },
        ],
      };
    }

    const published = (spec.ports ?? [])
      .filter((port) => port.publish === "host" || (this.args.publishDataPorts === true && role === "data"))
      .flatMap((port) => portTransports(port).map((t) => ({ internal: port.port, external: port.hostPort ?? port.port, ip: this.args.publishAddress, protocol: t.protocol.toLowerCase() })));
    return new docker.Container(
      spec.name,
      {
        ...process,
        name: this.containerName(spec.name),
        uploads: fileDelivery.uploads,
        volumes: [...volumes, ...hostBinds, ...fileDelivery.volumes],
        networksAdvanced: [
          ...spec.zones.map((zone) => ({ name: this.args.networks[zone].name, aliases: [spec.name] })),
          ...(published.length > 0 && spec.zones.every((zone) => INTERNAL_ZONES.includes(zone)) ? [this.hostAccessNetwork(spec.name)] : []),
        ],
        ports: published,
        healthcheck,
        shmSize: spec.shmSizeMiB,
        gpus: spec.gpu ? "all" : undefined,
        stopSignal: spec.stopSignal ?? "SIGTERM",
        stopTimeout: spec.stopGracePeriodSeconds,
        destroyGraceSeconds: spec.stopGracePeriodSeconds,
        readOnly,
        tmpfs: readOnly ? { "/tmp": "rw,noexec,nosuid,size=64m" } : undefined,
        labels: [...labels, ...fileDelivery.labels],
        ...lifecycle,
      },
      containerOpts,
    );
  }

  private hostAccessNetwork(workload: string): { name: pulumi.Input<string> } {
    if (!this.args.hostAccess) {
      throw new Error(`workload ${workload}: it publishes ports but sits on internal networks only, and the runtime was given no host-access network to publish them through`);
    }
    // No aliases: nothing resolves a name on it; it carries the port mapping only.
    return { name: this.args.hostAccess().name };
  }

  private probeSubject(spec: ContainerSpec): { workload: string; image: string; facts: NonNullable<ContainerSpec["imageFacts"]> } {
    const image = typeof spec.image === "string" ? spec.image : "(built by the stack)";
    const facts = spec.imageFacts ?? (typeof spec.image === "string" ? factsForImage(spec.image) : undefined);
    if (!facts) {
      throw new Error(
        `workload ${spec.name}: image ${image} has no entry in components/runtime/image-facts.ts, so no probe can be rendered for it; read its Dockerfile and record the shell and clients it ships`,
      );
    }
    return { workload: spec.name, image, facts };
  }
}

/** What a failed one-shot job says: where its output is and the exact command that reruns it. */
export function jobFailure(job: string, containerName: string, code: number, urn: string): string {
  const stack = pulumi.getStack();
  return [
    `job ${job} exited with code ${code}; its output: docker logs ${containerName}`,
    `A plain \`up\` does not rerun a job whose inputs did not change: fix the cause, then rerun it with`,
    `  npm run up -- ${stack} --replace '${urn}'`,
  ].join("\n");
}

function toArray(input: pulumi.Input<pulumi.Input<pulumi.Resource>[]> | pulumi.Input<pulumi.Resource> | undefined): pulumi.Input<pulumi.Resource>[] {
  if (input === undefined) return [];
  return Array.isArray(input) ? input : [input as pulumi.Input<pulumi.Resource>];
}
