import { defineResourcePolicy, type FundamentPolicy, type JudgedResource } from "../policy-definition";
import { asRecord, asString, isLiteralValue } from "../model/property-values";
import { DOCKER_CONTAINER } from "../model/docker-container";
import { K8S_CONFIG_MAP, POD_CONTROLLER_TYPES, POD_SPEC_SHAPE } from "../model/kubernetes-objects";
import { containerProcesses, envValue, flagValue, hasEnv, where, type ContainerProcess } from "../model/container-processes";
import type { KnownImage } from "../model/data-services";

const PROCESS_TYPES = [DOCKER_CONTAINER, ...POD_CONTROLLER_TYPES];

/** A configuration text the pack can read, and where it came from (for the finding). */
interface ConfigText {
  source: string;
  text: string;
}

/** Readable config files: Docker uploads (when not secret) and ConfigMap entries. */
function configTexts(resource: JudgedResource, process?: ContainerProcess): ConfigText[] {
  if (resource.type === K8S_CONFIG_MAP) {
    return Object.entries(asRecord(resource.props["data"]) ?? {}).flatMap(([key, value]) => {
      const text = asString(value);
      return text === undefined ? [] : [{ source: `data.${key}`, text }];
    });
  }
  return (process?.files ?? []).flatMap((file) => (isLiteralValue(file.content) ? [{ source: `upload ${file.path}`, text: file.content }] : []));
}

/** Server processes of one image, plus ConfigMap texts (which name no image) for the text checks. */
function judge(
  resource: JudgedResource,
  image: KnownImage,
  onProcess: (process: ContainerProcess, texts: ConfigText[]) => void,
  onText: (text: ConfigText, prefix: string) => void,
): void {
  if (resource.type === K8S_CONFIG_MAP) {
    for (const text of configTexts(resource)) onText(text, "");
    return;
  }
  for (const process of containerProcesses(resource.type, resource.props)) {
    if (process.knownImage !== image || !process.runsServer) continue;
    const texts = configTexts(resource, process);
    onProcess(process, texts);
    for (const text of texts) onText(text, where(process));
  }
}

function isTrue(value: string | undefined): boolean {
  return value !== undefined && /^(true|1|yes|on)$/i.test(value.trim());
}

/** `key` inside a `[section]` of an INI/TOML file or a top-level `section:` block of YAML. */
function sectionSetting(text: string, section: string, key: string): string | undefined {
  let mode: "ini" | "yaml" | undefined;
  const keyPattern = new RegExp(`^\\s*${key}\\s*[:=]\\s*"?([^"#;\\s]+)`);
  for (const line of text.split(/\r?\n/)) {
    const trimmed = line.trim();
    if (trimmed === "" || trimmed.startsWith("#") || trimmed.startsWith(";")) continue;
    const header = /^\[([^\]]+)\]$/.exec(trimmed);
    if (header) {
      mode = header[1] === section ? "ini" : undefined;
      continue;
    }
    const indented = /^\s/.test(line);
    if (!indented && mode !== "ini") {
      mode = trimmed === `${section}:` ? "yaml" : undefined;
      continue;
    }
    const match = keyPattern.exec(line);
    if (mode !== undefined && match) return match[1];
  }
  return undefined;
}

export const applicationDefaultPolicies: FundamentPolicy[] = [
  defineResourcePolicy({
    name: "rabbitmq-no-guest-user",
    description: "RabbitMQ must not use the guest account or let it log in from other hosts.",
    concern: "application-defaults",
    severity: "critical",
    enforcement: "mandatory",
    remediation: "Define named users in definitions.json (password hashes delivered as a secret file) and keep loopback_users at its default.",
    types: [...PROCESS_TYPES, K8S_CONFIG_MAP],
    alsoJudges: POD_SPEC_SHAPE,
    validate: (resource, report) =>
      judge(
        resource,
        "rabbitmq",
        (process) => {
          if (envValue(process, "RABBITMQ_DEFAULT_USER") === "guest") report(`${where(process)}RABBITMQ_DEFAULT_USER is "guest"`);
          if (envValue(process, "RABBITMQ_DEFAULT_PASS") === "guest") report(`${where(process)}RABBITMQ_DEFAULT_PASS is the default "guest"`);
        },
        (text, prefix) => {
          if (/^\s*loopback_users(\.guest)?\s*=\s*(none|false)\s*$/m.test(text.text)) {
            report(`${prefix}${text.source} lifts loopback_users, so guest/guest logs in from any host`);
          }
          if (/"name"\s*:\s*"guest"/.test(text.text) && /"users"\s*:/.test(text.text)) report(`${prefix}${text.source} defines the guest user`);
        },
      ),
  }),
  defineResourcePolicy({
    name: "minio-no-default-credentials",
    description: "MinIO must not run with its default minioadmin root credentials.",
    concern: "application-defaults",
    severity: "critical",
    enforcement: "mandatory",
    remediation: "Set MINIO_ROOT_USER to a generated name and MINIO_ROOT_PASSWORD_FILE to a secret file (random.RandomPassword).",
    types: PROCESS_TYPES,
    alsoJudges: POD_SPEC_SHAPE,
    validate: (resource, report) =>
      judge(
        resource,
        "minio",
        (process) => {
          for (const name of ["MINIO_ROOT_USER", "MINIO_ACCESS_KEY", "MINIO_ROOT_PASSWORD", "MINIO_SECRET_KEY"]) {
            if (envValue(process, name) === "minioadmin") report(`${where(process)}${name} is the default "minioadmin"`);
          }
          if (process.envMasked) return;
          const user = ["MINIO_ROOT_USER", "MINIO_ROOT_USER_FILE", "MINIO_ACCESS_KEY", "MINIO_ACCESS_KEY_FILE"].some((name) => hasEnv(process, name));
          const password = ["MINIO_ROOT_PASSWORD", "MINIO_ROOT_PASSWORD_FILE", "MINIO_SECRET_KEY", "MINIO_SECRET_KEY_FILE"].some((name) => hasEnv(process, name));
          if (!user || !password) {
            report(`${where(process)}${!user ? "MINIO_ROOT_USER" : "MINIO_ROOT_PASSWORD_FILE"} is missing, so MinIO falls back to minioadmin:minioadmin`);
          }
        },
        () => undefined,
      ),
  }),
  defineResourcePolicy({
    name: "grafana-no-default-admin",
    description: "Grafana must not keep the default admin/admin login.",
    concern: "application-defaults",
    severity: "high",
    enforcement: "mandatory",
    remediation: "Set GF_SECURITY_ADMIN_PASSWORD__FILE to a secret file holding a generated password.",
    types: [...PROCESS_TYPES, K8S_CONFIG_MAP],
    alsoJudges: POD_SPEC_SHAPE,
    validate: (resource, report) =>
      judge(
        resource,
        "grafana",
        (process, texts) => {
          if (envValue(process, "GF_SECURITY_ADMIN_PASSWORD") === "admin") report(`${where(process)}GF_SECURITY_ADMIN_PASSWORD is the default "admin"`);
          const configured =
            process.envMasked ||
            hasEnv(process, "GF_SECURITY_ADMIN_PASSWORD") ||
            hasEnv(process, "GF_SECURITY_ADMIN_PASSWORD__FILE") ||
            texts.some((text) => sectionSetting(text.text, "security", "admin_password") !== undefined);
          if (!configured) report(`${where(process)}GF_SECURITY_ADMIN_PASSWORD__FILE is missing, so the admin login is admin/admin`);
        },
        (text, prefix) => {
          if (sectionSetting(text.text, "security", "admin_password") === "admin") report(`${prefix}${text.source} sets admin_password to the default "admin"`);
        },
      ),
  }),
  defineResourcePolicy({
    name: "grafana-no-anonymous-admin",
    description: "Grafana must not grant anonymous visitors the Admin or Editor role.",
    concern: "application-defaults",
    severity: "critical",
    enforcement: "mandatory",
    remediation: "Turn anonymous access off, or keep GF_AUTH_ANONYMOUS_ORG_ROLE at Viewer.",
    types: [...PROCESS_TYPES, K8S_CONFIG_MAP],
    alsoJudges: POD_SPEC_SHAPE,
    validate: (resource, report) =>
      judge(
        resource,
        "grafana",
        (process) => {
          const role = envValue(process, "GF_AUTH_ANONYMOUS_ORG_ROLE") ?? "Viewer";
          if (isTrue(envValue(process, "GF_AUTH_ANONYMOUS_ENABLED")) && /^(admin|editor)$/i.test(role)) {
            report(`${where(process)}GF_AUTH_ANONYMOUS_ENABLED is true with GF_AUTH_ANONYMOUS_ORG_ROLE ${role}: anyone who reaches Grafana administers it`);
          }
        },
        (text, prefix) => {
          const role = sectionSetting(text.text, "auth.anonymous", "org_role") ?? "Viewer";
          if (isTrue(sectionSetting(text.text, "auth.anonymous", "enabled")) && /^(admin|editor)$/i.test(role)) {
            report(`${prefix}${text.source} enables [auth.anonymous] with org_role ${role}`);
          }
        },
      ),
  }),
  defineResourcePolicy({
    name: "traefik-no-insecure-api",
    description: "Traefik's API and dashboard must not be served on the unauthenticated insecure entrypoint.",
    concern: "application-defaults",
    severity: "high",
    enforcement: "mandatory",
    remediation: "Drop api.insecure and route api@internal through a router with basic auth on the gateway.",
    types: [...PROCESS_TYPES, K8S_CONFIG_MAP],
    alsoJudges: POD_SPEC_SHAPE,
    validate: (resource, report) =>
      judge(
        resource,
        "traefik",
        (process) => {
          const flag = flagValue(process.argv, "--api.insecure");
          if (flag !== undefined && (flag === "" || isTrue(flag))) report(`${where(process)}command sets --api.insecure`);
          if (isTrue(envValue(process, "TRAEFIK_API_INSECURE"))) report(`${where(process)}TRAEFIK_API_INSECURE is true`);
        },
        (text, prefix) => {
          if (isTrue(sectionSetting(text.text, "api", "insecure"))) report(`${prefix}${text.source} sets api.insecure`);
        },
      ),
  }),
  defineResourcePolicy({
    name: "redis-auth-required",
    description: "Redis must require authentication (requirepass or ACL users).",
    concern: "application-defaults",
    severity: "critical",
    enforcement: "mandatory",
    remediation: "Render redis.conf with requirepass or ACL users, deliver it as a secret file and start redis-server with its path.",
    types: PROCESS_TYPES,
    alsoJudges: POD_SPEC_SHAPE,
    validate: (resource, report) =>
      judge(
        resource,
        "redis",
        (process, texts) => {
          const byFlag = ["--requirepass", "--aclfile"].some((flag) => flagValue(process.argv, flag) !== undefined);
          const byText = texts.some((text) => /^\s*(requirepass|aclfile|user\s+\S+\s+on)\b/m.test(text.text));
          if (!byFlag && !byText && !process.mountsSecretFile) {
            report(`${where(process)}no requirepass, aclfile or ACL user is configured, so any client that reaches the port has full access`);
          }
        },
        () => undefined,
      ),
  }),
  defineResourcePolicy({
    name: "redis-protected-mode-on",
    description: "Redis must keep protected mode on.",
    concern: "application-defaults",
    severity: "high",
    enforcement: "mandatory",
    remediation: "Remove `protected-mode no`; with a password set, protected mode does not block remote clients.",
    types: [...PROCESS_TYPES, K8S_CONFIG_MAP],
    alsoJudges: POD_SPEC_SHAPE,
    validate: (resource, report) =>
      judge(
        resource,
        "redis",
        (process) => {
          if (flagValue(process.argv, "--protected-mode") === "no") report(`${where(process)}command sets --protected-mode no`);
        },
        (text, prefix) => {
          if (/^\s*protected-mode\s+no\s*$/m.test(text.text)) report(`${prefix}${text.source} sets protected-mode no`);
        },
      ),
  }),
  defineResourcePolicy({
    name: "mongodb-auth-required",
    description: "MongoDB must run with access control on.",
    concern: "application-defaults",
    severity: "critical",
    enforcement: "mandatory",
    remediation: "Set MONGO_INITDB_ROOT_USERNAME and MONGO_INITDB_ROOT_PASSWORD_FILE (the entrypoint then adds --auth), or start mongod with --auth/--keyFile.",
    types: PROCESS_TYPES,
    alsoJudges: POD_SPEC_SHAPE,
    validate: (resource, report) =>
      judge(
        resource,
        "mongo",
        (process, texts) => {
          if (flagValue(process.argv, "--noauth") !== undefined) {
            report(`${where(process)}command passes --noauth`);
            return;
          }
          const byEnv = process.envMasked || hasEnv(process, "MONGO_INITDB_ROOT_USERNAME") || hasEnv(process, "MONGO_INITDB_ROOT_USERNAME_FILE");
          const byFlag = ["--auth", "--keyFile"].some((flag) => flagValue(process.argv, flag) !== undefined);
          const byText = texts.some((text) => /authorization:\s*["']?enabled|keyFile:/.test(text.text));
          if (!byEnv && !byFlag && !byText) {
            report(`${where(process)}neither MONGO_INITDB_ROOT_USERNAME nor --auth/--keyFile is set, so mongod accepts unauthenticated clients`);
          }
        },
        () => undefined,
      ),
  }),
  defineResourcePolicy({
    name: "prometheus-no-admin-api",
    description: "Prometheus must not enable its admin API (delete series, snapshot, shut down).",
    concern: "application-defaults",
    severity: "high",
    enforcement: "mandatory",
    remediation: "Remove --web.enable-admin-api; take TSDB snapshots from a dedicated, exempted job when needed.",
    types: PROCESS_TYPES,
    alsoJudges: POD_SPEC_SHAPE,
    validate: (resource, report) =>
      judge(
        resource,
        "prometheus",
        (process) => {
          const flag = flagValue(process.argv, "--web.enable-admin-api");
          if (flag !== undefined && flag !== "false") report(`${where(process)}command passes --web.enable-admin-api`);
        },
        () => undefined,
      ),
  }),
];
