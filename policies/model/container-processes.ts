import { asRecord, asRecords, asString, asStrings, SECRET_PLACEHOLDER, type PropertyRecord } from "./property-values";
import { DOCKER_CONTAINER, dockerContainerView, type ConfigFile, type EnvEntry } from "./docker-container";
import { containerArgv, isKind, podView } from "./kubernetes-objects";
import { knownImageOf, type KnownImage, type WorkloadRole } from "./data-services";
import { knownRecords, lazyView, readKnown } from "./unknown-values";

/**
 * One process as the secrets and application-default rules see it, whichever target made it:
 * its image, environment, argv and the configuration files it is given.
 */
export interface ContainerProcess {
  /** Empty for a Docker container (the resource is the container); the container's place in a pod otherwise. */
  label: string;
  image: string | undefined;
  knownImage: KnownImage | undefined;
  role: WorkloadRole | undefined;
  env: EnvEntry[];
  /** The inventory masked the whole environment as one secret: what is set cannot be known. */
  envMasked: boolean;
  argv: string[];
  /**
   * The other command lines the runtime starts in the container, each named by its field: a
   * Docker healthcheck's test, a pod container's exec probes and lifecycle hooks. Their argv is
   * as readable on the node as the main process's.
   */
  otherCommands: CommandLine[];
  /** Files whose content the pack can read (Docker uploads). Kubernetes files arrive through ConfigMaps and Secrets. */
  files: ConfigFile[];
  /** A file whose content is a secret is mounted: where a server reads its credentials from. */
  mountsSecretFile: boolean;
  /**
   * The Docker container that carries this one's files (label fundament.files-from): a read-only
   * container gets its files through volumes filled by a never-started twin with the same image,
   * argv and environment, and the configuration rules read the files' text on that twin.
   */
  filesCarriedBy: string | undefined;
  /**
   * False for run-once tasks and client tools started from a server's image (mongosh from the
   * mongo image, redis-cli from redis): the server rules do not judge them.
   */
  runsServer: boolean;
}

export interface CommandLine {
  field: string;
  argv: string[];
}

/** A Docker healthcheck's test as the command it runs: CMD's words, or CMD-SHELL's script under sh -c. */
function dockerHealthcheckCommands(props: PropertyRecord): CommandLine[] {
  const test = asStrings(readKnown(() => asRecord(props["healthcheck"])?.["tests"]));
  if (test[0] === "CMD") return [{ field: "healthcheck.tests", argv: test.slice(1) }];
  if (test[0] === "CMD-SHELL") return [{ field: "healthcheck.tests", argv: ["/bin/sh", "-c", test.slice(1).join(" ")] }];
  return [];
}

const PROBES = ["livenessProbe", "readinessProbe", "startupProbe"] as const;
const HOOKS = ["postStart", "preStop"] as const;

/** A pod container's exec probes and exec lifecycle hooks. */
function podContainerCommands(container: PropertyRecord): CommandLine[] {
  const exec = (handler: unknown, field: string): CommandLine[] => {
    const argv = asStrings(readKnown(() => asRecord(asRecord(handler)?.["exec"])?.["command"]));
    return argv.length === 0 ? [] : [{ field, argv }];
  };
  const lifecycle = readKnown(() => asRecord(container["lifecycle"]));
  return [
    ...PROBES.flatMap((probe) => exec(readKnown(() => container[probe]), `${probe}.exec.command`)),
    ...HOOKS.flatMap((hook) => exec(lifecycle?.[hook], `lifecycle.${hook}.exec.command`)),
  ];
}

const CLIENT_COMMANDS = new Set([
  "mongosh",
  "mongo",
  "mongodump",
  "mongorestore",
  "redis-cli",
  "redis-benchmark",
  "psql",
  "pg_dump",
  "pg_dumpall",
  "pg_restore",
  "pg_basebackup",
  "rabbitmqadmin",
  "rabbitmqctl",
  "mc",
  "consul-template",
  "promtool",
  "sh",
  "bash",
]);

function runsServer(type: string, role: WorkloadRole | undefined, argv: readonly string[]): boolean {
  if (role === "job" || isKind(type, "Job", "CronJob")) return false;
  const program = (argv[0] ?? "").split("/").pop() ?? "";
  return !CLIENT_COMMANDS.has(program);
}

export function containerProcesses(type: string, props: PropertyRecord): ContainerProcess[] {
  if (type === DOCKER_CONTAINER) {
    const view = dockerContainerView(props);
    const process: ContainerProcess = lazyView<ContainerProcess>({
      label: () => "",
      image: () => view.image,
      knownImage: () => view.knownImage,
      role: () => view.role,
      env: () => view.env,
      envMasked: () => readKnown(() => props["envs"]) === SECRET_PLACEHOLDER,
      argv: () => view.argv,
      otherCommands: () => dockerHealthcheckCommands(props),
      files: () => view.files,
      // A list holding one secret is masked whole by the inventory: then every upload counts as secret.
      // A container whose files a carrier delivers reads them from volumes: the carrier is judged on their text.
      mountsSecretFile: () =>
        readKnown(() => props["uploads"]) === SECRET_PLACEHOLDER ||
        view.files.some((file) => file.content === SECRET_PLACEHOLDER) ||
        process.filesCarriedBy !== undefined,
      runsServer: () => runsServer(type, view.role, view.argv),
      filesCarriedBy: () => view.labels.get("fundament.files-from"),
    });
    return [process];
  }
  const pod = podView(type, props);
  if (!pod) return [];
  const secretVolumes = (): Set<string> =>
    new Set(
      asRecords(pod.spec["volumes"]).flatMap((volume) => {
        const name = asString(volume["name"]);
        const projectsSecret = asRecords(asRecord(volume["projected"])?.["sources"]).some((source) => asRecord(source["secret"]) !== undefined);
        return name !== undefined && (asRecord(volume["secret"]) !== undefined || projectsSecret) ? [name] : [];
      }),
    );
  return pod.containers.map(({ container, label }) => {
    const process: ContainerProcess = lazyView<ContainerProcess>({
      label: () => label,
      image: () => asString(container["image"]),
      knownImage: () => knownImageOf(process.image),
      role: () => pod.role,
      env: () =>
        knownRecords(() => container["env"]).map((entry) => ({
          name: readKnown(() => asString(entry["name"])) ?? "",
          // A value from a Secret is not a literal; one from a ConfigMap is not visible here.
          value:
            readKnown(() => asString(entry["value"])) ??
            (readKnown(() => asRecord(asRecord(entry["valueFrom"])?.["secretKeyRef"])) !== undefined ? SECRET_PLACEHOLDER : ""),
        })),
      envMasked: () => readKnown(() => container["env"]) === SECRET_PLACEHOLDER,
      argv: () => containerArgv(container),
      otherCommands: () => podContainerCommands(container),
      files: () => [],
      mountsSecretFile: () => {
        const secrets = secretVolumes();
        return asRecords(container["volumeMounts"]).some((mount) => secrets.has(asString(mount["name"]) ?? ""));
      },
      runsServer: () => runsServer(type, pod.role, process.argv),
      filesCarriedBy: () => undefined,
    });
    return process;
  });
}

/** "on <label>" for pod containers, nothing for a Docker container, to prefix findings. */
export function where(process: ContainerProcess): string {
  return process.label === "" ? "" : `${process.label}: `;
}

export function envValue(process: ContainerProcess, name: string): string | undefined {
  return process.env.find((entry) => entry.name === name)?.value;
}

export function hasEnv(process: ContainerProcess, name: string): boolean {
  return process.env.some((entry) => entry.name === name);
}

/** The value of `--flag=value` or `--flag value` in argv; "" for a bare flag; undefined when absent. */
export function flagValue(argv: readonly string[], flag: string): string | undefined {
  for (let index = 0; index < argv.length; index += 1) {
    const argument = argv[index] ?? "";
    if (argument === flag) {
      const next = argv[index + 1];
      return next !== undefined && !next.startsWith("-") ? next : "";
    }
    if (argument.startsWith(`${flag}=`)) return argument.slice(flag.length + 1);
  }
  return undefined;
}
