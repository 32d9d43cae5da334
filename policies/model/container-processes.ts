import { asRecord, asRecords, asString, SECRET_PLACEHOLDER, type PropertyRecord } from "./property-values";
import { DOCKER_CONTAINER, dockerContainerView, type ConfigFile, type EnvEntry } from "./docker-container";
import { containerArgv, podView } from "./kubernetes-objects";
import { knownImageOf, type KnownImage, type WorkloadRole } from "./data-services";

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
  argv: string[];
  /** Files whose content the pack can read (Docker uploads). Kubernetes files arrive through ConfigMaps and Secrets. */
  files: ConfigFile[];
  /** A file whose content is a secret is mounted: where a server reads its credentials from. */
  mountsSecretFile: boolean;
}

export function containerProcesses(type: string, props: PropertyRecord): ContainerProcess[] {
  if (type === DOCKER_CONTAINER) {
    const view = dockerContainerView(props);
    return [
      {
        label: "",
        image: view.image,
        knownImage: view.knownImage,
        role: view.role,
        env: view.env,
        argv: view.argv,
        files: view.files,
        mountsSecretFile: view.files.some((file) => file.content === SECRET_PLACEHOLDER),
      },
    ];
  }
  const pod = podView(type, props);
  if (!pod) return [];
  const secretVolumes = new Set(
    asRecords(pod.spec["volumes"]).flatMap((volume) => {
      const name = asString(volume["name"]);
      const projectsSecret = asRecords(asRecord(volume["projected"])?.["sources"]).some((source) => asRecord(source["secret"]) !== undefined);
      return name !== undefined && (asRecord(volume["secret"]) !== undefined || projectsSecret) ? [name] : [];
    }),
  );
  return pod.containers.map(({ container, label }) => {
    const image = asString(container["image"]);
    return {
      label,
      image,
      knownImage: knownImageOf(image),
      role: pod.role,
      env: asRecords(container["env"]).map((entry) => ({
        name: asString(entry["name"]) ?? "",
        // A value from a Secret is not a literal; one from a ConfigMap is not visible here.
        value:
          asString(entry["value"]) ??
          (asRecord(asRecord(entry["valueFrom"])?.["secretKeyRef"]) !== undefined ? SECRET_PLACEHOLDER : ""),
      })),
      argv: containerArgv(container),
      files: [],
      mountsSecretFile: asRecords(container["volumeMounts"]).some((mount) => secretVolumes.has(asString(mount["name"]) ?? "")),
    };
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
