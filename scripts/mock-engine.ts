/**
 * Runs the real fundament program through Pulumi's mock engine: no CLI, no plugins, no cloud,
 * no Docker. Every registered resource is recorded with its type, name, parent and inputs
 * (secrets still marked), so tests and `npm run inventory` read exactly what `pulumi up` would send.
 */
import { createHash } from "node:crypto";
import { MockTlsClock, mockTlsState } from "./mock-tls-provider";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { MockMonitor, Mocks, MockCallArgs, MockResourceArgs, MockResourceResult } from "@pulumi/pulumi/runtime/mocks";
import * as rpc from "@pulumi/pulumi/runtime/rpc";
import * as settings from "@pulumi/pulumi/runtime/settings";
import { parse } from "yaml";

export const PROJECT = "fundament";
const ROOT = join(__dirname, "..");

export interface RecordedResource {
  type: string;
  name: string;
  urn: string;
  /** URN of the parent; the stack itself has none. */
  parent?: string;
  /** Inputs as the engine received them; secrets are `{ [sigKey]: secretSig, value }` objects. */
  inputs: Record<string, unknown>;
  /** The explicit provider reference (`<provider urn>::<id>`); absent: the default provider. */
  provider?: string;
  /** URNs of what it depends on (dependsOn and the resources its inputs came from): created after them, deleted before. */
  dependencies: string[];
  /** The resource options the engine acts on when it diffs and replaces. */
  options: {
    ignoreChanges: string[];
    replaceOnChanges: string[];
    deleteBeforeReplace: boolean;
    protect: boolean;
    retainOnDelete: boolean;
    /** Outputs the engine stores encrypted although the provider does not mark them secret. */
    additionalSecretOutputs: string[];
  };
}

export interface StackRun {
  stack: string;
  resources: RecordedResource[];
  /** Stack outputs, secrets still marked. */
  outputs: Record<string, unknown>;
  /** Every value the mocks generated as a secret (passwords, keys): none may appear in plain text. */
  generatedSecrets: Set<string>;
  /** What the mocked providers answered, by `type::name` (outputs the program could read). */
  providerState: Map<string, Record<string, unknown>>;
}

export function isSecretMarker(value: unknown): value is { value: unknown } {
  return typeof value === "object" && value !== null && (value as Record<string, unknown>)[rpc.specialSigKey] === rpc.specialSecretSig;
}

/** The inputs with every secret replaced by "[secret]": what inventory --json prints. */
export function redactSecrets(value: unknown): unknown {
  if (isSecretMarker(value)) return "[secret]";
  if (Array.isArray(value)) return value.map(redactSecrets);
  if (typeof value === "object" && value !== null) {
    if (pulumi.asset.Asset.isInstance(value) || pulumi.asset.Archive.isInstance(value)) return "[asset]";
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactSecrets(v)]));
  }
  return value;
}

/** Every string leaf outside a secret marker, with its property path. */
export function plainStrings(value: unknown, path = ""): { path: string; value: string }[] {
  if (isSecretMarker(value)) return [];
  if (typeof value === "string") return [{ path, value }];
  if (Array.isArray(value)) return value.flatMap((v, i) => plainStrings(v, `${path}[${i}]`));
  if (typeof value === "object" && value !== null) {
    return Object.entries(value).flatMap(([k, v]) => plainStrings(v, path ? `${path}.${k}` : k));
  }
  return [];
}

/** Stack config as `pulumi.runtime.allConfig()` holds it: namespaced keys, objects as JSON. */
export function readStackConfig(stack: string, file = join(ROOT, `Pulumi.${stack}.yaml`)): Record<string, string> {
  const document = parse(readFileSync(file, "utf8")) as { config?: Record<string, unknown> } | null;
  const config: Record<string, string> = {};
  for (const [key, value] of Object.entries(document?.config ?? {})) {
    const fullKey = key.includes(":") ? key : `${PROJECT}:${key}`;
    config[fullKey] = typeof value === "string" ? value : JSON.stringify(value);
  }
  return config;
}

function digest(text: string, length: number, alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"): string {
  let out = "";
  let counter = 0;
  while (out.length < length) {
    for (const byte of createHash("sha256").update(`${text}:${counter++}`).digest()) {
      if (out.length < length) out += alphabet[byte % alphabet.length];
    }
  }
  return out;
}

const MOCK_ACCOUNT = "123456789012";

/** What AWS computes for the EKS resources the program reads back (endpoint, CA, node group ASGs). */
function mockEksState(args: MockResourceArgs): Record<string, unknown> | undefined {
  const inputs = args.inputs as Record<string, unknown>;
  switch (args.type) {
    case "aws:eks/cluster:Cluster": {
      const name = String(inputs.name ?? args.name);
      const id = createHash("sha256").update(name).digest("hex").slice(0, 32).toUpperCase();
      return {
        ...inputs,
        arn: `arn:aws:eks:eu-central-1:${MOCK_ACCOUNT}:cluster/${name}`,
        endpoint: `https://${id}.gr7.eu-central-1.eks.amazonaws.com`,
        certificateAuthority: { data: Buffer.from(`mock CA of ${name}`).toString("base64") },
        identities: [{ oidcs: [{ issuer: `https://oidc.eks.eu-central-1.amazonaws.com/id/${id}` }] }],
        vpcConfig: { ...(inputs.vpcConfig as Record<string, unknown>), clusterSecurityGroupId: `sg-${id.slice(0, 17).toLowerCase()}` },
      };
    }
    case "aws:eks/nodeGroup:NodeGroup":
      return { ...inputs, arn: `arn:aws:eks:eu-central-1:${MOCK_ACCOUNT}:nodegroup/${String(inputs.nodeGroupName)}`, resources: [{ autoscalingGroups: [{ name: `eks-${String(inputs.nodeGroupName)}-asg` }] }] };
    case "aws:ec2/launchTemplate:LaunchTemplate":
      return { ...inputs, arn: `arn:aws:ec2:eu-central-1:${MOCK_ACCOUNT}:launch-template/lt-${args.name}`, latestVersion: 1 };
    case "aws:kms/key:Key":
      return { ...inputs, arn: `arn:aws:kms:eu-central-1:${MOCK_ACCOUNT}:key/${args.name}`, keyId: args.name };
    case "aws:iam/role:Role":
      return { ...inputs, arn: `arn:aws:iam::${MOCK_ACCOUNT}:role/${args.name}`, name: inputs.name ?? args.name };
    case "aws:cloudwatch/logGroup:LogGroup":
      return { ...inputs, arn: `arn:aws:logs:eu-central-1:${MOCK_ACCOUNT}:log-group:${String(inputs.name ?? args.name)}` };
    default:
      return undefined;
  }
}

/** Data-source answers the program may ask for; anything else fails loudly. */
function mockCall(args: MockCallArgs, secrets: Set<string>): Record<string, unknown> {
  switch (args.token) {
    case "aws:ecr/getAuthorizationToken:getAuthorizationToken": {
      const password = digest(`ecr:${String(args.inputs.registryId)}`, 48);
      secrets.add(password);
      return { id: "ecr-token", userName: "AWS", password, authorizationToken: Buffer.from(`AWS:${password}`).toString("base64"), proxyEndpoint: `https://${String(args.inputs.registryId)}.dkr.ecr.eu-central-1.amazonaws.com`, expiresAt: "2099-01-01T00:00:00Z" };
    }
    case "aws:index/getCallerIdentity:getCallerIdentity":
      return { id: MOCK_ACCOUNT, accountId: MOCK_ACCOUNT, arn: `arn:aws:iam::${MOCK_ACCOUNT}:user/deployer`, userId: "AIDAMOCKDEPLOYER" };
    default:
      throw new Error(`Mock not implemented: ${args.token}`);
  }
}

/** Outputs a provider would compute, where the program reads them. */
function mockState(args: MockResourceArgs, secrets: Set<string>, exitCodes: Record<string, number>, tlsClock?: MockTlsClock): Record<string, unknown> {
  const inputs = args.inputs as Record<string, unknown>;
  const real = tlsClock ? mockTlsState(args.type, args.name, inputs, tlsClock) : undefined;
  if (real) {
    if (typeof real.privateKeyPem === "string") secrets.add(real.privateKeyPem.split("\n")[1]);
    return real;
  }
  switch (args.type) {
    case "random:index/randomPassword:RandomPassword": {
      const result = digest(`password:${args.name}`, Number(inputs.length ?? 32));
      secrets.add(result);
      return { ...inputs, result, bcryptHash: `$2a$10$${digest(`bcrypt:${args.name}`, 53)}` };
    }
    case "random:index/randomBytes:RandomBytes": {
      const bytes = createHash("sha512").update(`bytes:${args.name}`).digest().subarray(0, Number(inputs.length ?? 32));
      secrets.add(bytes.toString("base64"));
      return { ...inputs, base64: bytes.toString("base64"), hex: bytes.toString("hex") };
    }
    case "random:index/randomUuid:RandomUuid": {
      // The program uses RandomUuid for secrets only (Consul SecretIDs).
      const hex = createHash("sha256").update(`uuid:${args.name}`).digest("hex");
      const result = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
      secrets.add(result);
      return { ...inputs, result };
    }
    case "random:index/randomId:RandomId": {
      const bytes = createHash("sha256").update(`id:${args.name}`).digest().subarray(0, Number(inputs.byteLength ?? 8));
      return { ...inputs, hex: bytes.toString("hex"), b64Std: bytes.toString("base64"), b64Url: bytes.toString("base64url"), dec: BigInt(`0x${bytes.toString("hex")}`).toString() };
    }
    case "tls:index/privateKey:PrivateKey": {
      const body = digest(`key:${args.name}`, 64);
      const privateKeyPem = `-----BEGIN PRIVATE KEY-----\n${body}\n-----END PRIVATE KEY-----\n`;
      secrets.add(body);
      return { ...inputs, privateKeyPem, privateKeyPemPkcs8: privateKeyPem, publicKeyPem: `-----BEGIN PUBLIC KEY-----\n${digest(`pub:${args.name}`, 64)}\n-----END PUBLIC KEY-----\n`, publicKeyOpenssh: `ssh-ed25519 ${digest(`ssh:${args.name}`, 40)}` };
    }
    case "docker:index/remoteImage:RemoteImage":
      return { ...inputs, imageId: `sha256:${createHash("sha256").update(String(inputs.name)).digest("hex")}`, repoDigest: `${String(inputs.name)}@sha256:${createHash("sha256").update(`digest:${String(inputs.name)}`).digest("hex")}` };
    case "docker:index/image:Image": {
      const hash = createHash("sha256").update(String(inputs.imageName)).digest("hex");
      // The provider's repoDigest: repository@sha256:... once pushed (the tag trimmed); for a skipPush image, the local image ID.
      const repository = String(inputs.imageName).replace(/:[^/:]+$/, "");
      return { ...inputs, imageName: inputs.imageName, repoDigest: inputs.skipPush === true ? `sha256:${hash}` : `${repository}@sha256:${hash}` };
    }
    case "docker:index/container:Container":
      return { ...inputs, exitCode: exitCodes[String(inputs.name)] ?? 0 };
    default: {
      if (args.type.startsWith("kubernetes:")) {
        const metadata = (inputs.metadata ?? {}) as Record<string, unknown>;
        // The Kubernetes provider auto-names objects that do not set metadata.name.
        return { ...inputs, metadata: { ...metadata, name: metadata.name ?? `${args.name}-${digest(args.name, 8, "abcdefghijklmnopqrstuvwxyz0123456789")}` } };
      }
      if (args.type === "aws:ecr/repository:Repository") {
        const registryId = "123456789012";
        return { ...inputs, registryId, arn: `arn:aws:ecr:eu-central-1:${registryId}:repository/${String(inputs.name)}`, repositoryUrl: `${registryId}.dkr.ecr.eu-central-1.amazonaws.com/${String(inputs.name)}` };
      }
      const eks = mockEksState(args);
      if (eks) return eks;
      if (args.type.startsWith("aws:")) {
        const physical = String(inputs.bucket ?? inputs.name ?? `${args.name}-${digest(args.name, 7, "abcdefghijklmnopqrstuvwxyz0123456789")}`);
        return { ...inputs, arn: `arn:aws:mock:::${physical}`, bucket: inputs.bucket ?? physical, name: inputs.name ?? physical };
      }
      return inputs;
    }
  }
}

class RecordingMonitor extends MockMonitor {
  readonly recorded: RecordedResource[] = [];
  stackOutputs: Record<string, unknown> = {};

  constructor(mocks: Mocks) {
    super(mocks);
  }

  override async registerResource(req: RegisterRequest, callback: (err: unknown, response: unknown) => void): Promise<void> {
    await super.registerResource(req, (err, response) => {
      if (!err && response) {
        const urn = (response as { getUrn(): string }).getUrn();
        this.recorded.push({
          type: req.getType(),
          name: req.getName(),
          urn,
          parent: req.getParent() || undefined,
          inputs: rpc.deserializeProperties(req.getObject()) as Record<string, unknown>,
          provider: req.getProvider() || undefined,
          dependencies: req.getDependenciesList(),
          options: {
            ignoreChanges: req.getIgnorechangesList(),
            replaceOnChanges: req.getReplaceonchangesList(),
            deleteBeforeReplace: req.getDeletebeforereplace(),
            protect: req.getProtect() === true,
            retainOnDelete: req.getRetainondelete() === true,
            additionalSecretOutputs: req.getAdditionalsecretoutputsList(),
          },
        });
      }
      callback(err, response);
    });
  }

  override registerResourceOutputs(req: OutputsRequest, callback: (err: unknown, response: unknown) => void): void {
    if (req.getUrn().includes("::pulumi:pulumi:Stack::")) {
      const outputs = req.getOutputs();
      this.stackOutputs = outputs ? (rpc.deserializeProperties(outputs) as Record<string, unknown>) : {};
    }
    super.registerResourceOutputs(req, callback);
  }
}

interface RegisterRequest {
  getType(): string;
  getName(): string;
  getParent(): string;
  getObject(): Parameters<typeof rpc.deserializeProperties>[0];
  getProvider(): string;
  getIgnorechangesList(): string[];
  getReplaceonchangesList(): string[];
  getDeletebeforereplace(): boolean;
  getProtect(): boolean | undefined;
  getRetainondelete(): boolean | undefined;
  getAdditionalsecretoutputsList(): string[];
  getDependenciesList(): string[];
}

interface OutputsRequest {
  getUrn(): string;
  getOutputs(): Parameters<typeof rpc.deserializeProperties>[0] | undefined;
}

/** The engine's queue of outstanding registrations; internal to the SDK, hence not in its typings. */
function drainRpcs(): Promise<void> {
  return (settings as unknown as { waitForRPCs(): Promise<void> }).waitForRPCs();
}

/**
 * How a failed program ends under the Pulumi CLI: a resource already registered may wait on an
 * input that nothing will produce now (the gateway's routes, rendered after the last layer), and
 * node exits once its event loop is empty, reporting the promises left pending. A test process's
 * loop never empties, so a failed run stops waiting once registrations have stopped arriving.
 */
async function quiescent(monitor: RecordingMonitor): Promise<void> {
  const tick = 50;
  const quietTicks = 40;
  let seen = -1;
  let quiet = 0;
  while (quiet < quietTicks) {
    await new Promise((resolve) => setTimeout(resolve, tick));
    if (monitor.recorded.length === seen) quiet += 1;
    else {
      seen = monitor.recorded.length;
      quiet = 0;
    }
  }
}

/**
 * Runs `program` (the real stacks/program.ts main) with `config` through the mock engine and
 * waits until every registration has finished. A program error (invalid config) rejects.
 */
export async function runProgram(
  stack: string,
  config: Record<string, string>,
  program: () => Promise<Record<string, unknown>>,
  options: { preview?: boolean; /** Exit code a container (by its Docker name) reports; 0 unless named. */ containerExitCodes?: Record<string, number>;
    /** Real keys and certificates (openssl) issued and read back at these times, instead of placeholders. */
    tlsClock?: MockTlsClock;
  } = {},
): Promise<StackRun> {
  const generatedSecrets = new Set<string>();
  const providerState = new Map<string, Record<string, unknown>>();
  const mocks: Mocks = {
    newResource: (args: MockResourceArgs): MockResourceResult => {
      const state = mockState(args, generatedSecrets, options.containerExitCodes ?? {}, options.tlsClock);
      providerState.set(`${args.type}::${args.name}`, state);
      return { id: `${args.name}-id`, state };
    },
    call: (args: MockCallArgs) => mockCall(args, generatedSecrets),
  };
  await pulumi.runtime.setMocks(mocks, PROJECT, stack, options.preview ?? false);
  const monitor = new RecordingMonitor(mocks);
  settings.setMockOptions(monitor, PROJECT, stack, options.preview ?? false);
  pulumi.runtime.setAllConfig(config);
  let failure: unknown;
  // The failure is caught inside the stack's init: a rejected init leaves the SDK's other
  // promise chains on the stack resource rejected with no handler, which a test runner reports.
  await pulumi.runtime.runInPulumiStack(async () => {
    try {
      return await program();
    } catch (error) {
      failure = error;
      return {};
    }
  });
  await (failure ? Promise.race([drainRpcs(), quiescent(monitor)]) : drainRpcs());
  if (failure) {
    // Keep what was registered before the failure: a config error must have registered nothing.
    const error = failure instanceof Error ? failure : new Error(String(failure));
    // Not enumerable: test runners print an error's own properties, and this list is long.
    Object.defineProperty(error, "registered", { value: monitor.recorded, enumerable: false });
    throw error;
  }
  return { stack, resources: monitor.recorded, outputs: monitor.stackOutputs, generatedSecrets, providerState };
}
