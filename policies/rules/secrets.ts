import { defineResourcePolicy, type FundamentPolicy } from "../policy-definition";
import { asRecord, asRecords, asString, asStrings, at, isLiteralValue, stringLeaves, type StringLeaf } from "../model/property-values";
import { BASE64_WHOLE, isCredentialName, privateKeyFormat } from "../model/credential-names";
import { DOCKER_CONTAINER, dockerContainerView, parseEnvEntry } from "../model/docker-container";
import { isKind, K8S_CONFIG_MAP, K8S_SECRET, POD_CONTROLLER_TYPES, POD_SPEC_SHAPE, podView } from "../model/kubernetes-objects";
import { containerProcesses, where, type ContainerProcess } from "../model/container-processes";
import { readKnown } from "../model/unknown-values";
import { credentialFileKind } from "../model/credential-files";
import { commandLineCredentials, isSwitchValue, isValueReference } from "../model/command-line-credentials";
import { knownTokenFormat } from "../model/token-formats";
import { credentialAssignments } from "../model/config-text-credentials";
import { cloudCredentialContent, cloudCredentialFileName, type CloudCredential } from "../model/cloud-credentials";

const INSTANCE = "aws:ec2/instance:Instance";
const LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate";

function envFindings(process: ContainerProcess, field: string): string[] {
  return process.env.flatMap((entry) => {
    if (!isLiteralValue(entry.value) || isValueReference(entry.value)) return [];
    if (isCredentialName(entry.name) && !isSwitchValue(entry.value)) {
      // Grafana maps GF_<SECTION>_<KEY>__FILE (two underscores); the other official images use _FILE.
      const fileVariable = entry.name.startsWith("GF_") ? `${entry.name}__FILE` : `${entry.name}_FILE`;
      return [`${where(process)}${field} ${entry.name} holds a literal credential; mount it as a file from a secret and point ${fileVariable} at it`];
    }
    const embedded = credentialAssignments(entry.value);
    if (embedded.length > 0) {
      return [`${where(process)}${field} ${entry.name} embeds a literal credential (${embedded.join(", ")}); build the value in the process from a secret file`];
    }
    return [];
  });
}

function argvFindings(process: ContainerProcess, argv: readonly string[], field: string): string[] {
  return commandLineCredentials(argv).map(
    (target) => `${where(process)}${field} carries a literal credential (${target}); every user on the host can read argv: read it from a secret file instead`,
  );
}

export const secretPolicies: FundamentPolicy[] = [
  defineResourcePolicy({
    name: "no-plaintext-secret-in-container-env",
    description: "Docker containers must not carry credentials as literal environment values.",
    concern: "secrets",
    severity: "critical",
    enforcement: "mandatory",
    remediation:
      "Generate the credential with @pulumi/random, upload it as a secret file and set the image's *_FILE variable (POSTGRES_PASSWORD_FILE, GF_SECURITY_ADMIN_PASSWORD__FILE) instead of the value.",
    types: [DOCKER_CONTAINER],
    validate: (resource, report) => {
      for (const process of containerProcesses(resource.type, resource.props)) envFindings(process, "envs:").forEach(report);
    },
  }),
  defineResourcePolicy({
    name: "no-plaintext-secret-in-pod-env",
    description: "Kubernetes containers and init containers must not carry credentials as literal env values.",
    concern: "secrets",
    severity: "critical",
    enforcement: "mandatory",
    remediation: "Put the credential in a Secret and mount it as a file (an image that reads only its environment takes env.valueFrom.secretKeyRef, with an exemption of k8s-secrets-as-files).",
    types: POD_CONTROLLER_TYPES,
    alsoJudges: POD_SPEC_SHAPE,
    validate: (resource, report) => {
      for (const process of containerProcesses(resource.type, resource.props)) envFindings(process, "env").forEach(report);
    },
  }),
  defineResourcePolicy({
    name: "k8s-secrets-as-files",
    description: "Kubernetes Secrets reach containers as mounted files, not as environment variables (env secretKeyRef, envFrom secretRef).",
    concern: "secrets",
    // Medium: the value is not in the manifest, but a variable is inherited by every child
    // process, readable in /proc/<pid>/environ, copied into crash reports and debug dumps, and
    // never updated when the Secret rotates; a mounted file is none of these.
    severity: "medium",
    enforcement: { dev: "advisory", prod: "mandatory" },
    remediation: "Mount the Secret as a volume (defaultMode 0400) and point the image's *_FILE variable at the file; an image that reads only its environment gets an exemption of this rule that names it and why.",
    types: POD_CONTROLLER_TYPES,
    alsoJudges: POD_SPEC_SHAPE,
    validate: (resource, report) => {
      for (const { container, label } of podView(resource.type, resource.props)?.containers ?? []) {
        asRecords(container["env"]).forEach((entry, index) => {
          const reference = asRecord(at(entry, "valueFrom", "secretKeyRef"));
          if (!reference) return;
          report(`${label}: env[${index}] ${asString(entry["name"]) ?? "?"} takes key "${asString(reference["key"]) ?? "?"}" of Secret "${asString(reference["name"]) ?? "?"}" as an environment variable`);
        });
        asRecords(container["envFrom"]).forEach((source, index) => {
          const reference = asRecord(source["secretRef"]);
          if (reference) report(`${label}: envFrom[${index}] loads every key of Secret "${asString(reference["name"]) ?? "?"}" as environment variables`);
        });
      }
    },
  }),
  defineResourcePolicy({
    name: "no-secret-in-command-args",
    description:
      "Credentials must not be passed on a command line (the container's command, a Docker healthcheck, an exec probe or lifecycle hook): a flag's value (--requirepass, --db-password, --client-secret), a NAME=value the program is started with, or a URL's password; scripts handed to a shell are read word by word.",
    concern: "secrets",
    severity: "high",
    enforcement: "mandatory",
    remediation: "Move the credential into a config file delivered as a secret (redis.conf requirepass, a password file) and pass the file's path.",
    types: [DOCKER_CONTAINER, ...POD_CONTROLLER_TYPES],
    alsoJudges: POD_SPEC_SHAPE,
    validate: (resource, report) => {
      for (const process of containerProcesses(resource.type, resource.props)) {
        argvFindings(process, process.argv, "command").forEach(report);
        for (const command of process.otherCommands) argvFindings(process, command.argv, command.field).forEach(report);
      }
    },
  }),
  defineResourcePolicy({
    name: "no-secret-in-config-map",
    description:
      "ConfigMaps are readable by anything that can read the namespace; credentials belong in Secrets: a credential-named key, a credential-named setting anywhere in a config file (YAML, INI, JSON, XML, a query or connection string), a URL's password, a literal Authorization header, or a tool's credential file (registry login, .netrc, .pgpass, .git-credentials, .npmrc token).",
    concern: "secrets",
    severity: "high",
    enforcement: "mandatory",
    remediation: "Move the credential into a Secret (mounted as a file) and reference its path from the ConfigMap's configuration.",
    types: [K8S_CONFIG_MAP],
    validate: (resource, report) => {
      const data = asRecord(resource.props["data"]) ?? {};
      for (const [key, value] of Object.entries(data)) {
        const text = asString(value);
        if (text === undefined) continue;
        // A cloud CLI's credential file is no-cloud-cli-credential's finding, with what it is.
        if (configMapCloudCredential(key, text)) continue;
        if (isCredentialName(key) && isLiteralValue(text) && !isValueReference(text) && !isSwitchValue(text)) {
          report(`data.${key} holds a literal credential`);
          continue;
        }
        const assignments = credentialAssignments(text);
        for (const assignment of assignments) {
          report(`data.${key} assigns a literal credential to ${assignment}`);
        }
        const file = assignments.length === 0 ? credentialFileKind(text) : undefined;
        if (file) report(`data.${key} is ${file}`);
      }
    },
  }),
  defineResourcePolicy({
    name: "no-private-key-in-plain-value",
    description: "PEM private keys must only travel in Secrets or secret files, never in plain inputs (env, labels, ConfigMaps, args).",
    concern: "secrets",
    severity: "critical",
    enforcement: "mandatory",
    remediation: "Generate the key with @pulumi/tls, keep it a Pulumi secret and deliver it as a Kubernetes Secret or a secret upload.",
    types: "any",
    validate: (resource, report) => {
      // Docker uploads are the sanctioned file route (their content is a Pulumi secret, which the
      // engine hands over in plain); the resources below hold keys by design.
      if (holdsSecretsByDesign(resource.type, resource.props)) return;
      for (const leaf of stringLeaves(resource.props, readKnown)) {
        if (resource.type === DOCKER_CONTAINER && leaf.path.startsWith("uploads")) continue;
        const format = privateKeyFormat(leaf.value);
        if (format) report(`${describeLeaf(leaf)} contains a ${format} private key in plain text`);
      }
    },
  }),
  defineResourcePolicy({
    name: "no-known-token-in-plain-value",
    description:
      "Values in a token issuer's own format (GitHub, GitLab, Slack, AWS access key ids, Google, Stripe, OpenAI, Anthropic, Hugging Face, npm, PyPI, Docker Hub, SendGrid, Vault, Pulumi, Grafana, Databricks, Azure storage, signed JWTs) must not travel in plain inputs, whatever they are named.",
    concern: "secrets",
    // Critical: such a token acts outside the platform (a repository, a registry, a paid API),
    // where neither the cluster's nor the host's boundaries contain it.
    severity: "critical",
    enforcement: "mandatory",
    remediation:
      "Revoke the token at its issuer (it has been in plain text), issue a new one, keep it a Pulumi secret (pulumi config set --secret) and deliver it as a Kubernetes Secret mounted as a file or a Docker secret upload; prefer a workload identity where the issuer offers one.",
    types: "any",
    validate: (resource, report) => {
      if (holdsSecretsByDesign(resource.type, resource.props)) return;
      const cloudFiles = new Set(resource.type === K8S_CONFIG_MAP ? configMapCloudCredentials(resource.props).map((entry) => entry.path) : []);
      for (const leaf of stringLeaves(resource.props, readKnown)) {
        if (resource.type === DOCKER_CONTAINER && leaf.path.startsWith("uploads")) continue;
        // A cloud CLI's credential file is no-cloud-cli-credential's finding, which says what it is.
        if (cloudFiles.has(leaf.path)) continue;
        const what = knownTokenFormat(leaf.value);
        // The path and the kind of token, never the value: the finding is printed in CI logs.
        if (what) report(`${describeLeaf(leaf)} holds ${what} in plain text (recognised by its format)`);
      }
    },
  }),
  defineResourcePolicy({
    name: "no-cloud-cli-credential",
    description: "Files of the cloud CLIs and SDKs that hold an account credential (AWS, GCP, Azure, OCI) must not travel in ConfigMaps or uploads.",
    concern: "secrets",
    // Critical: the credential acts in the cloud account itself, beyond the cluster or host it leaked from.
    severity: "critical",
    enforcement: "mandatory",
    remediation:
      "Give the workload a cloud identity instead of a key (EKS: IAM roles for service accounts or Pod Identity; GKE/AKS workload identity); where a key file is unavoidable, generate it in the program, keep it a Pulumi secret and mount it from a Kubernetes Secret.",
    types: [K8S_CONFIG_MAP, DOCKER_CONTAINER],
    validate: (resource, report) => {
      if (resource.type === DOCKER_CONTAINER) {
        // Judged by the file's name, whatever its content: the engine hands a secret upload's
        // content over in plain, so a content test could not tell a sanctioned file from a leak,
        // and no workload of the platform needs a cloud CLI's credential file.
        dockerContainerView(resource.props).files.forEach((file, index) => {
          const found = cloudCredentialFileName(file.path) ?? (isLiteralValue(file.content) ? cloudCredentialContent(file.content) : undefined);
          if (found) report(`uploads[${index}] ${file.path} is ${describeCredential(found)}`);
        });
        return;
      }
      for (const { path, found } of configMapCloudCredentials(resource.props)) {
        report(`${path} holds ${describeCredential(found)}; anything that can read the namespace reads it`);
      }
    },
  }),
  defineResourcePolicy({
    name: "no-secret-in-user-data",
    description:
      "EC2 user data (instances and launch templates) must not carry credentials: a credential-named variable or setting, a flag's value, or a URL's password in the script or cloud-config.",
    concern: "secrets",
    // Critical: user data is readable by anyone with ec2:DescribeInstanceAttribute or
    // DescribeLaunchTemplateVersions, and from the metadata service by any process on the node.
    severity: "critical",
    enforcement: "mandatory",
    remediation:
      "Store the credential in Secrets Manager or an SSM SecureString and have the script fetch it with the instance's role at boot (aws secretsmanager get-secret-value), or give the workload an IAM role instead of a key.",
    types: [INSTANCE, LAUNCH_TEMPLATE],
    validate: (resource, report) => {
      for (const field of ["userData", "userDataBase64"]) {
        const text = userDataText(readKnown(() => resource.props[field]));
        if (text === undefined) continue;
        const found = new Set([...credentialAssignments(text), ...commandLineCredentials(["sh", "-c", text])].map((name) => name.replace(/=$/, "")));
        if (found.size > 0) report(`${field} carries a literal credential (${[...found].join(", ")}); anyone who may describe the ${resource.type === INSTANCE ? "instance" : "launch template"}, and every process on the node, reads it`);
      }
    },
  }),
  defineResourcePolicy({
    name: "k8s-no-long-lived-service-account-token",
    description: "No Secret of type kubernetes.io/service-account-token: its token never expires and is not bound to a pod; workloads get short-lived tokens from the TokenRequest API (the projected token every pod has).",
    concern: "secrets",
    // High: a leaked copy works until someone deletes the Secret, from anywhere the API server is reachable.
    severity: "high",
    enforcement: "mandatory",
    remediation:
      "Delete the Secret; a pod uses its projected service-account token (automountServiceAccountToken or a projected volume with an expirationSeconds), and a client outside the cluster asks for one with kubectl create token or the TokenRequest API.",
    types: [K8S_SECRET],
    alsoJudges: { description: "Secrets under any API version", matches: (type) => isKind(type, "Secret") },
    validate: (resource, report) => {
      if (asString(resource.props["type"]) !== "kubernetes.io/service-account-token") return;
      const account = asString(at(resource.props, "metadata", "annotations", "kubernetes.io/service-account.name")) ?? "?";
      report(`a kubernetes.io/service-account-token Secret for service account ${account}: a token that never expires`);
    },
  }),
  defineResourcePolicy({
    name: "eks-secrets-encryption",
    description: "EKS clusters must envelope-encrypt Kubernetes Secrets with a KMS key.",
    concern: "secrets",
    severity: "high",
    enforcement: { dev: "advisory", prod: "mandatory" },
    remediation: "Set encryptionConfig: { resources: [\"secrets\"], provider: { keyArn: <aws.kms.Key arn, rotation on> } } on the cluster.",
    types: ["aws:eks/cluster:Cluster"],
    validate: (resource, report) => {
      const encryption = asRecord(resource.props["encryptionConfig"]);
      if (!encryption) {
        report("encryptionConfig is missing: Secrets are stored in etcd without envelope encryption");
        return;
      }
      if (!asStrings(encryption["resources"]).includes("secrets")) report('encryptionConfig.resources must include "secrets"');
      const keyArn = asString(at(encryption, "provider", "keyArn"));
      if (keyArn === undefined || keyArn === "") {
        report("encryptionConfig.provider.keyArn is missing: name the KMS key that encrypts Secrets");
      }
    },
  }),
];

/**
 * Where a private key or a token belongs: a Kubernetes Secret (or its patch), the tls provider's
 * resources, a provider's own configuration (a kubeconfig's client key, a GitHub provider's
 * token), AWS Secrets Manager, an SSM SecureString, and the certificate imports of ACM and IAM,
 * which take the key by design.
 */
function holdsSecretsByDesign(type: string, props: Record<string, unknown>): boolean {
  if (isKind(type, "Secret", "SecretPatch", "SecretList") || type.startsWith("tls:") || type.startsWith("pulumi:providers:")) return true;
  if (type === "aws:ssm/parameter:Parameter") return asString(readKnown(() => props["type"])) === "SecureString";
  return ["aws:secretsmanager/secretVersion:SecretVersion", "aws:acm/certificate:Certificate", "aws:iam/serverCertificate:ServerCertificate"].includes(type);
}

/** User data as the instance reads it: the aws provider takes it plain or base64-encoded (launch templates). */
function userDataText(value: unknown): string | undefined {
  const text = asString(value);
  if (!isLiteralValue(text)) return undefined;
  if (!BASE64_WHOLE.test(text)) return text;
  const decoded = Buffer.from(text.replace(/\s+/g, ""), "base64").toString("utf8");
  // Text that only looks like base64 (a one-word script) decodes to bytes no script holds.
  return /^[\x09\x0a\x0d\x20-\x7e\u00a0-\uffff]*$/.test(decoded) ? decoded : text;
}

function describeCredential(found: CloudCredential): string {
  return `${found.what} (${found.cloud})`;
}

function decodedBinaryData(value: unknown): string | undefined {
  const encoded = asString(value);
  return encoded === undefined || !isLiteralValue(encoded) ? undefined : Buffer.from(encoded, "base64").toString("utf8");
}

/**
 * Where a leaf is, named so that it can be found at 3 a.m.: an env entry or label by its name as
 * well as its index, a Docker `NAME=value` environment entry by its NAME. Never the value.
 */
function describeLeaf(leaf: StringLeaf): string {
  if (leaf.entryName !== undefined) return `${leaf.path} (${leaf.entryName})`;
  // Without "=" the whole entry would be the name, and it may be the credential itself.
  if (/^envs\[\d+\]$/.test(leaf.path) && leaf.value.includes("=")) return `${leaf.path} (${parseEnvEntry(leaf.value).name})`;
  return leaf.path;
}

/** A ConfigMap's entries that are cloud CLI credential files, by their leaf path (data.<key>, binaryData.<key>). */
function configMapCloudCredentials(props: Record<string, unknown>): { path: string; found: CloudCredential }[] {
  const entries: { path: string; found: CloudCredential }[] = [];
  for (const field of ["data", "binaryData"]) {
    for (const [key, value] of Object.entries(asRecord(props[field]) ?? {})) {
      // binaryData is base64: the credential file's text is what it decodes to.
      const text = field === "data" ? asString(value) : decodedBinaryData(value);
      const found = configMapCloudCredential(key, text);
      if (found) entries.push({ path: `${field}.${key}`, found });
    }
  }
  return entries;
}

/** A ConfigMap entry that is a cloud CLI's credential file by its key, or by its text. */
function configMapCloudCredential(key: string, text: string | undefined): CloudCredential | undefined {
  return cloudCredentialFileName(key) ?? (isLiteralValue(text) ? cloudCredentialContent(text) : undefined);
}
