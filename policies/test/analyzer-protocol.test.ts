import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { Empty } from "google-protobuf/google/protobuf/empty_pb";
import { Struct } from "google-protobuf/google/protobuf/struct_pb";
import * as analyzerRpc from "@pulumi/pulumi/proto/analyzer_grpc_pb";
import * as analyzerProto from "@pulumi/pulumi/proto/analyzer_pb";
import type { PolicyPackConfig } from "@pulumi/policy";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { evaluate, type InventoryResource } from "../evaluate";
import { policies } from "../pack";
import { stackPolicyConfig } from "../stack-config";
import type { StackName } from "../policy-definition";
import type { FailCase, PassCase } from "../../tests/fixtures/policies/fixture-case";
import { loadFailFixtures, loadPassFixtures } from "./fixture-loader";
import { dockerStack } from "../../tests/fixtures/policies/hardened-baselines";

/** How the engine marks a string input that depends on an output not known during preview. */
const UNKNOWN_STRING = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/*
 * The pack as the Pulumi CLI runs it: @pulumi/pulumi's run-policy-pack entry (the one the
 * CLI's Node.js analyzer host starts) loads index.ts through ts-node with type checking, and the
 * pack serves the analyzer gRPC protocol on the port it prints. The test plays the engine's part
 * (GetAnalyzerInfo, Configure, Analyze per resource, AnalyzeStack) and checks the pack answers
 * what the offline evaluator answers.
 */

const POLICY_DIR = join(__dirname, "..");
const RUN_POLICY_PACK = require.resolve("@pulumi/pulumi/cmd/run-policy-pack");

let pack: ChildProcess | undefined;
let client: analyzerRpc.AnalyzerClient;

type Callback<Response> = (error: grpc.ServiceError | null, response: Response) => void;

function settle<Response>(start: (callback: Callback<Response>) => unknown): Promise<Response> {
  return new Promise((resolve, reject) => {
    start((error, response) => (error ? reject(error) : resolve(response)));
  });
}

const rpc = {
  info: () => settle<analyzerProto.AnalyzerInfo>((done) => client.getAnalyzerInfo(new Empty(), done)),
  configure: (request: analyzerProto.ConfigureAnalyzerRequest) => settle<Empty>((done) => client.configure(request, done)),
  analyze: (request: analyzerProto.AnalyzeRequest) => settle<analyzerProto.AnalyzeResponse>((done) => client.analyze(request, done)),
  analyzeStack: (request: analyzerProto.AnalyzeStackRequest) => settle<analyzerProto.AnalyzeResponse>((done) => client.analyzeStack(request, done)),
};

const LEVELS: Record<string, analyzerProto.EnforcementLevel> = {
  advisory: analyzerProto.EnforcementLevel.ADVISORY,
  mandatory: analyzerProto.EnforcementLevel.MANDATORY,
  disabled: analyzerProto.EnforcementLevel.DISABLED,
  remediate: analyzerProto.EnforcementLevel.REMEDIATE,
};

async function configure(config: PolicyPackConfig): Promise<void> {
  const request = new analyzerProto.ConfigureAnalyzerRequest();
  for (const [name, entry] of Object.entries(config)) {
    const { enforcementLevel = "mandatory", ...properties } = typeof entry === "string" ? { enforcementLevel: entry } : entry;
    const policyConfig = new analyzerProto.PolicyConfig();
    policyConfig.setEnforcementlevel(LEVELS[enforcementLevel] ?? analyzerProto.EnforcementLevel.MANDATORY);
    policyConfig.setProperties(Struct.fromJavaScript(properties as Record<string, never>));
    request.getPolicyconfigMap().set(name, policyConfig);
  }
  await rpc.configure(request);
}

const urnOf = (stack: string, resource: InventoryResource): string => `urn:pulumi:${stack}::fundament::${resource.type}::${resource.name}`;

function options(): analyzerProto.AnalyzerResourceOptions {
  const opts = new analyzerProto.AnalyzerResourceOptions();
  opts.setProtect(false);
  return opts;
}

interface Seen {
  policy: string;
  enforcement: string;
  name: string;
  message: string;
}

/** What the engine would show: the pack's diagnostics, with the policy description it prefixes taken off. */
function seen(diagnostics: analyzerProto.AnalyzeDiagnostic[], nameOf: (urn: string) => string): Seen[] {
  return diagnostics.map((diagnostic) => {
    const description = diagnostic.getDescription();
    const message = diagnostic.getMessage();
    return {
      policy: diagnostic.getPolicyname(),
      enforcement: diagnostic.getEnforcementlevel() === analyzerProto.EnforcementLevel.MANDATORY ? "mandatory" : "advisory",
      name: nameOf(diagnostic.getUrn()),
      message: message.startsWith(`${description}\n`) ? message.slice(description.length + 1) : message,
    };
  });
}

async function analyzeOverProtocol(stack: StackName, resources: InventoryResource[]): Promise<Seen[]> {
  await configure(stackPolicyConfig(stack, policies));
  const byUrn = new Map(resources.map((resource) => [urnOf(stack, resource), resource.name]));
  // Sent together, as the engine does while it steps through a deployment.
  const perResource = await Promise.all(
    resources.map(async (resource) => {
      const request = new analyzerProto.AnalyzeRequest();
      request.setType(resource.type);
      request.setName(resource.name);
      request.setUrn(urnOf(stack, resource));
      request.setProperties(Struct.fromJavaScript(resource.props as Record<string, never>));
      request.setOptions(options());
      const response = await rpc.analyze(request);
      return seen(response.getDiagnosticsList(), () => resource.name);
    }),
  );
  const results: Seen[] = perResource.flat();
  const stackRequest = new analyzerProto.AnalyzeStackRequest();
  stackRequest.setResourcesList(
    resources.map((resource) => {
      const entry = new analyzerProto.AnalyzerResource();
      entry.setType(resource.type);
      entry.setName(resource.name);
      entry.setUrn(urnOf(stack, resource));
      entry.setProperties(Struct.fromJavaScript(resource.props as Record<string, never>));
      entry.setOptions(options());
      return entry;
    }),
  );
  const stackResponse = await rpc.analyzeStack(stackRequest);
  results.push(...seen(stackResponse.getDiagnosticsList(), (urn) => byUrn.get(urn) ?? stack));
  return results;
}

const key = (finding: Seen): string => `${finding.policy} | ${finding.enforcement} | ${finding.name} | ${finding.message}`;

beforeAll(async () => {
  // The first argument is the engine's address, which a policy pack does not dial.
  const child = spawn(process.execPath, [RUN_POLICY_PACK, "127.0.0.1:0", "."], { cwd: POLICY_DIR, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  pack = child;
  const port = await new Promise<number>((resolve, reject) => {
    let output = "";
    let errors = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      const line = /^(\d+)\s*$/m.exec(output);
      if (line) resolve(Number(line[1]));
    });
    child.stderr?.on("data", (chunk: Buffer) => (errors += chunk.toString()));
    child.on("exit", (code) => reject(new Error(`policy pack exited with ${code}: ${errors}`)));
  });
  client = new analyzerRpc.AnalyzerClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  // ts-node type-checks the whole pack before it serves.
}, 300_000);

afterAll(() => {
  client?.close();
  // The pack runs in its own process group; end that group only.
  if (pack?.pid !== undefined) process.kill(-pack.pid, "SIGTERM");
});

describe("the pack served over the analyzer protocol", () => {
  it("announces fundament-security with every policy, its enforcement and its exemptions schema", async () => {
    const info = await rpc.info();
    expect(info.getName()).toBe("fundament-security");
    expect(info.getVersion()).toBe("0.1.0");
    expect(info.getSupportsconfig()).toBe(true);
    const announced = info.getPoliciesList();
    expect(announced.map((policy) => policy.getName())).toEqual(policies.map((policy) => policy.name));
    for (const policy of announced) {
      const schema = policy.getConfigschema()?.getProperties()?.toJavaScript() ?? {};
      expect(Object.keys(schema), policy.getName()).toContain("exemptions");
    }
  });

  it("answers every hardened baseline and the first case of every fail fixture exactly as evaluate() does", async () => {
    const passes = (await loadPassFixtures()).find((fixture) => fixture.file === "hardened/pass.baselines.ts")?.cases ?? [];
    const fails = (await loadFailFixtures()).map((fixture) => fixture.cases[0]).filter((fixture): fixture is FailCase => fixture !== undefined);
    const cases: PassCase[] = [...passes, ...fails].filter((fixture) => fixture.config === undefined);
    expect(cases.length).toBeGreaterThan(50);
    const mismatches: string[] = [];
    for (const fixture of cases) {
      const resources = fixture.resources.map((resource) => ({ ...resource, urn: urnOf(fixture.stack, resource) }));
      const offline = (await evaluate(resources, { stack: fixture.stack })).map(key).sort();
      const served = (await analyzeOverProtocol(fixture.stack, resources)).map(key).sort();
      if (JSON.stringify(offline) !== JSON.stringify(served)) mismatches.push(`${fixture.case}: offline ${JSON.stringify(offline)} served ${JSON.stringify(served)}`);
    }
    expect(mismatches).toEqual([]);
  }, 600_000);

  it("during preview judges a container on what is known, and only the rules that read the image (its tag, its programs) wait for it", async () => {
    const postgres = dockerStack().find((resource) => resource.name === "postgres");
    if (!postgres) throw new Error("baseline has postgres");
    const props = structuredClone(postgres.props) as Record<string, unknown> & { uploads: { content: string }[]; envs: string[] };
    props["image"] = UNKNOWN_STRING;
    props.uploads[0] = { ...props.uploads[0], content: UNKNOWN_STRING };
    props.envs[0] = "POSTGRES_PASSWORD=literal-in-code";
    delete props["memory"];
    await configure(stackPolicyConfig("dev", policies));
    const request = new analyzerProto.AnalyzeRequest();
    request.setType(postgres.type);
    request.setName(postgres.name);
    request.setUrn(urnOf("dev", postgres));
    request.setProperties(Struct.fromJavaScript(props as unknown as Record<string, never>));
    request.setOptions(options());
    const diagnostics = seen((await rpc.analyze(request)).getDiagnosticsList(), () => postgres.name);
    const waiting = diagnostics.filter((diagnostic) => diagnostic.message.includes("during preview"));
    const judged = diagnostics.filter((diagnostic) => !diagnostic.message.includes("during preview"));
    expect(judged.map((diagnostic) => [diagnostic.policy, diagnostic.enforcement]).sort()).toEqual([
      ["docker-memory-limit", "mandatory"],
      ["no-plaintext-secret-in-container-env", "mandatory"],
    ]);
    expect(waiting.map((diagnostic) => [diagnostic.policy, diagnostic.enforcement]).sort()).toEqual([
      ["docker-probe-program-in-image", "advisory"],
      ["pinned-image-tags", "advisory"],
    ]);
  });
});
