import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { renderCronLoop } from "./cron-loop";
import { dockerHealthTest, probeTiming, startupBudgetSeconds } from "./probe-command";
import { DeployedWorkload, Endpoint, Job, Runtime, ScheduledJob, Workload, WorkloadRole, Zone, offeredZones, portsByZone, roleOf } from "./workload";

export interface DockerRuntimeArgs {
  /** Prefix of container, volume and network names: several environments can share one engine. */
  environment: string;
  networks: Record<Zone, docker.Network>;
  /** Host address that ports with `publish: "host"` bind to. */
  publishAddress: string;
  /** Also publish data services' ports (for psql/redis-cli from the host); off unless configured. */
  publishDataPorts?: boolean;
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
    return this.deployed(workload, [container]);
  }

  run(job: Job, opts: RuntimeOptions): DeployedWorkload {
    const container = this.container(job, roleOf(job, true), opts, {
      restart: "no",
      mustRun: false,
      attach: true,
      logs: true,
    });
    // A one-shot container that failed must fail the deployment, not pass silently.
    container.exitCode.apply((code) => {
      if (code !== undefined && code !== null && code !== 0) {
        throw new Error(`job ${job.name} exited with code ${code}; see its logs with: docker logs ${this.containerName(job.name)}`);
      }
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
    const owner = spec.user ? String(spec.user.uid) : undefined;
    const group = spec.user ? String(spec.user.gid) : undefined;
    const uploads = (spec.files ?? []).map((file) => ({
      file: file.path,
      content: file.secret ? pulumi.secret(file.content) : file.content,
      permissions: (file.mode ?? (file.secret ? 0o400 : 0o444)).toString(8).padStart(4, "0"),
      owner,
      group,
    }));
    const readiness = spec.health?.readiness;
    const timing = readiness ? probeTiming(readiness) : undefined;
    return new docker.Container(
      spec.name,
      {
        name: this.containerName(spec.name),
        image: imageId,
        entrypoints: spec.command,
        command: spec.args,
        envs: Object.entries(spec.env ?? {}).map(([key, value]) => pulumi.interpolate`${key}=${value}`),
        uploads,
        volumes,
        networksAdvanced: spec.zones.map((zone) => ({ name: this.args.networks[zone].name, aliases: [spec.name] })),
        ports: (spec.ports ?? [])
          .filter((port) => port.publish === "host" || (this.args.publishDataPorts === true && role === "data"))
          .map((port) => ({ internal: port.port, external: port.port, ip: this.args.publishAddress, protocol: "tcp" })),
        healthcheck:
          readiness && timing
            ? {
                tests: dockerHealthTest(readiness),
                interval: `${timing.periodSeconds}s`,
                timeout: `${timing.timeoutSeconds}s`,
                retries: timing.failureThreshold,
                startPeriod: `${startupBudgetSeconds(spec.health?.startup)}s`,
                startInterval: "2s",
              }
            : undefined,
        memory: spec.resources.memoryMiB,
        memorySwap: spec.resources.memoryMiB,
        cpus: String(spec.resources.cpu),
        shmSize: spec.shmSizeMiB,
        gpus: spec.gpu ? "all" : undefined,
        stopSignal: spec.stopSignal ?? "SIGTERM",
        stopTimeout: spec.stopGracePeriodSeconds,
        destroyGraceSeconds: spec.stopGracePeriodSeconds,
        user: spec.user && !spec.startsAsRoot ? `${spec.user.uid}:${spec.user.gid}` : undefined,
        privileged: false,
        securityOpts: ["no-new-privileges:true"],
        capabilities: { drops: ["ALL"], adds: spec.capabilities ?? [] },
        readOnly: spec.readOnlyRootFilesystem ?? false,
        tmpfs: spec.readOnlyRootFilesystem ? { "/tmp": "rw,noexec,nosuid,size=64m" } : undefined,
        logDriver: "json-file",
        logOpts: LOG_OPTS,
        labels: [
          { label: "fundament.workload", value: spec.name },
          { label: "fundament.role", value: role },
          { label: "fundament.environment", value: this.args.environment },
          ...spec.zones.map((zone) => ({ label: `fundament.zone.${zone}`, value: "true" })),
          // Docker networks cannot limit ports; the labels record which zones each port is for (README: Zones).
          ...(spec.ports ?? []).flatMap((port) => [
            { label: `fundament.port.${port.name}`, value: String(port.port) },
            { label: `fundament.port.${port.name}.zones`, value: offeredZones(spec, port).join(",") },
          ]),
        ],
        ...lifecycle,
      },
      childOpts,
    );
  }
}

function toArray(input: pulumi.Input<pulumi.Input<pulumi.Resource>[]> | pulumi.Input<pulumi.Resource> | undefined): pulumi.Input<pulumi.Resource>[] {
  if (input === undefined) return [];
  return Array.isArray(input) ? input : [input as pulumi.Input<pulumi.Resource>];
}
