// No mongod can be installed on this machine, so the rendered mongosh script runs here against an
// in-memory MODEL of the few shell APIs it calls. The model is strict where mongod is (auth first,
// writes only on a primary, createUser refuses duplicates, rs.initiate refuses a second time,
// conflicting index definitions are refused) and where requireTLS and the driver's verification
// are (a connection string without tls=true is closed; the CA file must exist in the Job and be
// the platform CA; the host must be a name on mongod's leaf; nothing may relax verification),
// but it is a model, not mongod and not the Node driver.
import { PlatformPki } from "../../components/pki";
import { createHash } from "node:crypto";
import { runInNewContext } from "node:vm";
import * as pulumi from "@pulumi/pulumi";
import { MockCallArgs, MockResourceArgs } from "@pulumi/pulumi/runtime/mocks";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Mongo } from "../../components/database/mongo/mongo";
import { mongoExporterSubject } from "../../components/database/mongo/mongo-certificates";
import { mongoClientUri } from "../../components/database/mongo/mongo-client-tls";
import { MongoInitScriptInput, mongoIndexName, mongoInitPlan, renderMongoInitScript } from "../../components/database/mongo/mongo-init-script";
import { MONGO_CA_PATH, MONGO_INIT_SCRIPT_PATH, MONGO_ROOT_PASSWORD_PATH } from "../../components/database/mongo/mongo-workloads";
import { DeployedWorkload, Job, Runtime, Workload } from "../../components/runtime/workload";

interface ModelUser {
  pwd?: string;
  roles: { role: string; db: string }[];
}

interface ModelIndex {
  keys: Record<string, number>;
  unique: boolean;
}

class MongoModel {
  initiated = false;
  primary = false;
  replicaSetConfig: unknown = undefined;
  initiateCalls = 0;
  /** hello() calls between rs.initiate and winning the election. */
  electionDelay = 3;
  helloCalls = 0;
  unreachableConnects = 0;
  slept = 0;
  readonly users = new Map<string, ModelUser>();
  readonly indexes = new Map<string, ModelIndex>();
  readonly log: string[] = [];

  constructor(
    /** What a verifying client can reach: the member's address, the CA and the names on its leaf. */
    readonly server: { port: number; caPem: string; leafNames: readonly string[] },
    readonly rootPassword: string,
  ) {}

  snapshot(): unknown {
    return {
      initiated: this.initiated,
      primary: this.primary,
      replicaSetConfig: this.replicaSetConfig,
      users: [...this.users.entries()].sort(),
      indexes: [...this.indexes.entries()].sort(),
    };
  }
}

function shellError(code: number, codeName: string, message: string): Error {
  return Object.assign(new Error(message), { code, codeName });
}

/** The global scope mongosh gives a --nodb --file script, as far as the rendered script uses it. */
function mongoshGlobals(model: MongoModel, files: Record<string, string>): Record<string, unknown> {
  const session = { authenticated: false };
  const requireAuth = () => {
    if (!session.authenticated) throw shellError(13, "Unauthorized", "command requires authentication");
  };
  const requirePrimary = () => {
    if (!model.primary) throw shellError(10107, "NotWritablePrimary", "not primary");
  };
  const database = (name: string): Record<string, unknown> => ({
    getSiblingDB: (other: string) => database(other),
    auth: (user: string, pwd: string) => {
      if (name !== "admin" || user !== "root" || pwd !== model.rootPassword) throw shellError(18, "AuthenticationFailed", "Authentication failed.");
      session.authenticated = true;
      return { ok: 1 };
    },
    hello: () => {
      if (model.initiated && !model.primary && ++model.helloCalls >= model.electionDelay) model.primary = true;
      return { isWritablePrimary: model.primary };
    },
    getUser: (user: string) => {
      requireAuth();
      return model.users.get(`${name}.${user}`) ?? null;
    },
    createUser: (doc: { user: string; pwd?: string; roles: ModelUser["roles"] }) => {
      requireAuth();
      requirePrimary();
      const key = `${name}.${doc.user}`;
      if (model.users.has(key)) throw shellError(51003, "Location51003", `User "${doc.user}@${name}" already exists`);
      if ((name === "$external") !== (doc.pwd === undefined)) throw shellError(2, "BadValue", "password given for $external or missing elsewhere");
      model.users.set(key, { pwd: doc.pwd, roles: doc.roles });
      return { ok: 1 };
    },
    updateUser: (user: string, fields: { pwd?: string; roles: ModelUser["roles"] }) => {
      requireAuth();
      requirePrimary();
      const key = `${name}.${user}`;
      if (!model.users.has(key)) throw shellError(11, "UserNotFound", `User ${user}@${name} not found`);
      model.users.set(key, { pwd: fields.pwd, roles: fields.roles });
      return { ok: 1 };
    },
    getCollection: (collection: string) => ({
      createIndex: (keys: Record<string, number>, options: { name: string; unique: boolean }) => {
        requireAuth();
        requirePrimary();
        const prefix = `${name}.${collection}.`;
        const existing = model.indexes.get(prefix + options.name);
        const sameKeys = (other: ModelIndex) => JSON.stringify(other.keys) === JSON.stringify(keys);
        if (existing) {
          if (!sameKeys(existing)) throw shellError(86, "IndexKeySpecsConflict", "An existing index has the same name as the requested index");
          if (existing.unique !== options.unique) throw shellError(85, "IndexOptionsConflict", "An equivalent index already exists with different options");
          return options.name;
        }
        for (const [key, index] of model.indexes) {
          if (key.startsWith(prefix) && sameKeys(index)) throw shellError(85, "IndexOptionsConflict", "Index already exists with a different name");
        }
        model.indexes.set(prefix + options.name, { keys, unique: options.unique });
        return options.name;
      },
    }),
  });
  return {
    connect: (uri: string) => {
      if (model.unreachableConnects > 0) {
        model.unreachableConnects--;
        throw shellError(6, "HostUnreachable", "connect ECONNREFUSED");
      }
      tlsConnect(model, files, uri);
      return database("admin");
    },
    rs: {
      status: () => {
        requireAuth();
        if (!model.initiated) throw shellError(94, "NotYetInitialized", "no replset config has been received");
        return { ok: 1 };
      },
      initiate: (config: { _id: string; members: { _id: number; host: string }[] }) => {
        requireAuth();
        if (model.initiated) throw shellError(23, "AlreadyInitialized", "already initialized");
        model.initiated = true;
        model.initiateCalls++;
        model.replicaSetConfig = config;
        return { ok: 1 };
      },
    },
    // Only require("fs"), as mongosh documents for scripts: a script that used a global fs fails here.
    require: (name: string) => {
      if (name !== "fs") throw new Error(`Cannot find module '${name}'`);
      return {
        readFileSync: (path: string) => {
          if (!(path in files)) throw Object.assign(new Error(`ENOENT: no such file or directory, open '${path}'`), { code: "ENOENT" });
          return files[path];
        },
      };
    },
    sleep: (ms: number) => {
      model.slept += ms;
    },
    print: (...parts: unknown[]) => {
      model.log.push(parts.join(" "));
    },
  };
}

/**
 * What the driver and a requireTLS mongod do with a connection string, as far as the script's one
 * connect() needs: a plain connection is closed by the server, the CA file is read from the
 * container and must be the CA that signed the leaf, the host must be a name the leaf carries.
 */
function tlsConnect(model: MongoModel, files: Record<string, string>, uri: string): void {
  const url = new URL(uri);
  const options = url.searchParams;
  const relaxing = [...options.keys()].filter((key) => /insecure|allowinvalid|disable/i.test(key));
  if (relaxing.length > 0) throw new Error(`connection string relaxes TLS verification: ${relaxing.join(", ")}`);
  if (url.port !== String(model.server.port)) throw shellError(6, "HostUnreachable", `connect ECONNREFUSED ${url.host}`);
  if (options.get("tls") !== "true" && options.get("ssl") !== "true") {
    throw Object.assign(new Error(`connection to ${url.host} closed`), { name: "MongoNetworkError" });
  }
  const caFile = options.get("tlsCAFile") ?? "";
  if (!(caFile in files)) throw Object.assign(new Error(`ENOENT: no such file or directory, open '${caFile}'`), { code: "ENOENT" });
  if (files[caFile] !== model.server.caPem) throw Object.assign(new Error("unable to verify the first certificate"), { code: "UNABLE_TO_VERIFY_LEAF_SIGNATURE" });
  if (!model.server.leafNames.includes(url.hostname)) {
    throw Object.assign(new Error(`Hostname/IP does not match certificate's altnames: Host: ${url.hostname}. is not in the cert's altnames`), { code: "ERR_TLS_CERT_ALTNAME_INVALID" });
  }
  if (options.get("directConnection") !== "true") throw new Error("the Job must talk to the one member it names (directConnection=true)");
}

/** One Job run: a fresh mongosh process (fresh globals) against the persistent model server. */
function runJob(script: string, model: MongoModel, files: Record<string, string>): void {
  runInNewContext(script, mongoshGlobals(model, files), { timeout: 10_000 });
}

const input: MongoInitScriptInput = {
  host: "mongo",
  port: 27017,
  tlsCAFile: "/etc/mongo/tls/ca.pem",
  replicaSet: "rs0",
  rootUser: "root",
  rootPasswordFile: "/run/secrets/mongo/root-password",
  exporterSubject: "CN=mongo-exporter,OU=fundament-mongo-clients,O=fundament",
  services: [
    {
      service: "users",
      database: "users",
      passwordFile: "/run/secrets/mongo/users-password",
      indexes: [
        { collection: "accounts", keys: { email: 1 }, unique: true },
        { collection: "sessions", keys: { userId: 1, createdAt: -1 }, name: "by_user_recent" },
      ],
    },
    { service: "gpu-jobs", database: "gpu_jobs", passwordFile: "/run/secrets/mongo/gpu-jobs-password", indexes: [] },
  ],
};

const CA_PEM = "-----BEGIN CERTIFICATE-----\nplatform CA\n-----END CERTIFICATE-----\n";
const files: Record<string, string> = {
  "/etc/mongo/tls/ca.pem": CA_PEM,
  "/run/secrets/mongo/root-password": "RootPassword0123456789\n",
  "/run/secrets/mongo/users-password": "UsersPassword0123456789\n",
  "/run/secrets/mongo/gpu-jobs-password": "GpuJobsPassword0123456789\n",
};

const newModel = () => new MongoModel({ port: 27017, caPem: CA_PEM, leafNames: ["mongo", "localhost"] }, "RootPassword0123456789");

describe("mongo init script (run against a model of mongosh + mongod, not a real mongod)", () => {
  const script = renderMongoInitScript(input);

  it("on a fresh node: initiates rs0 with itself as the member, waits for primary, creates users and indexes", () => {
    const model = newModel();
    runJob(script, model, files);
    expect(model.initiateCalls).toBe(1);
    expect(model.replicaSetConfig).toEqual({ _id: "rs0", members: [{ _id: 0, host: "mongo:27017" }] });
    expect(model.primary).toBe(true);
    expect(model.users.get("users.users")).toEqual({ pwd: "UsersPassword0123456789", roles: [{ role: "readWrite", db: "users" }] });
    expect(model.users.get("gpu_jobs.gpu-jobs")).toEqual({ pwd: "GpuJobsPassword0123456789", roles: [{ role: "readWrite", db: "gpu_jobs" }] });
    expect(model.users.get(`$external.${input.exporterSubject}`)?.roles).toEqual([
      { role: "clusterMonitor", db: "admin" },
      { role: "read", db: "local" },
    ]);
    expect(model.indexes.get("users.accounts.email_1")).toEqual({ keys: { email: 1 }, unique: true });
    expect(model.indexes.get("users.sessions.by_user_recent")).toEqual({ keys: { userId: 1, createdAt: -1 }, unique: false });
    expect(model.log.at(-1)).toBe("mongo init complete");
  });

  it("creates the backup job's user with only the backup role, its password read from its file", () => {
    const model = newModel();
    const withBackup = renderMongoInitScript({ ...input, backup: { user: "fundament-backup", passwordFile: "/run/secrets/mongo/backup-password" } });
    runJob(withBackup, model, { ...files, "/run/secrets/mongo/backup-password": "BackupPassword0123456789\n" });
    expect(model.users.get("admin.fundament-backup")).toEqual({ pwd: "BackupPassword0123456789", roles: [{ role: "backup", db: "admin" }] });
    expect(withBackup).not.toContain("BackupPassword0123456789");
  });

  it("is idempotent: a second run initiates nothing and leaves the same state", () => {
    const model = newModel();
    runJob(script, model, files);
    const afterFirst = model.snapshot();
    runJob(script, model, files);
    expect(model.initiateCalls).toBe(1);
    expect(model.snapshot()).toEqual(afterFirst);
    expect(model.log).toContain("replica set rs0 already initiated");
  });

  it("on a replica set someone already initiated: never calls rs.initiate, still converges users and indexes", () => {
    const model = newModel();
    model.initiated = true;
    model.primary = true;
    runJob(script, model, files);
    expect(model.initiateCalls).toBe(0);
    expect(model.users.has("users.users")).toBe(true);
    expect(model.indexes.has("users.accounts.email_1")).toBe(true);
  });

  it("waits for mongod to accept connections instead of failing the Job", () => {
    const model = newModel();
    model.unreachableConnects = 4;
    runJob(script, model, files);
    expect(model.slept).toBeGreaterThanOrEqual(4000);
    expect(model.users.has("users.users")).toBe(true);
  });

  it("rotates a service password when its generated password changes", () => {
    const model = newModel();
    runJob(script, model, files);
    runJob(script, model, { ...files, "/run/secrets/mongo/users-password": "RotatedPassword987654321" });
    expect(model.users.get("users.users")?.pwd).toBe("RotatedPassword987654321");
  });

  it("fails the Job, naming the index, when a declared index conflicts with an existing one", () => {
    const model = newModel();
    runJob(script, model, files);
    const changed = renderMongoInitScript({
      ...input,
      services: [{ ...input.services[0], indexes: [{ collection: "accounts", keys: { email: 1 }, unique: false }] }],
    });
    expect(() => runJob(changed, model, files)).toThrow(/index email_1 on users\.accounts exists with a different definition/);
  });

  it("fails the Job with the wrong root password instead of doing anything", () => {
    const model = newModel();
    expect(() => runJob(script, model, { ...files, "/run/secrets/mongo/root-password": "wrong" })).toThrow(/Authentication failed/);
    expect(model.initiateCalls).toBe(0);
    expect(model.users.size).toBe(0);
  });

  it("holds no password: they are read from the secret files at run time", () => {
    const secrets = Object.entries(files).filter(([path]) => path.startsWith("/run/secrets/"));
    expect(secrets).toHaveLength(3);
    for (const [path, content] of secrets) {
      expect(script).not.toContain(content.trim());
      expect(script).toContain(JSON.stringify(path));
    }
  });

  it("connects over TLS: tls=true, the CA file the Job mounts, the member by a name on mongod's leaf, nothing relaxed", () => {
    const uri = new URL(mongoInitPlan(input).uri);
    expect(uri.hostname).toBe("mongo");
    expect(Object.fromEntries(uri.searchParams)).toEqual({ directConnection: "true", tls: "true", tlsCAFile: "/etc/mongo/tls/ca.pem" });
    expect(script).not.toMatch(/insecure|allowinvalid/i);
  });

  it("against requireTLS: fails the Job before it changes anything when the server would not verify", () => {
    const notOnLeaf = newModel();
    expect(() => runJob(renderMongoInitScript({ ...input, host: "mongo.example.net" }), notOnLeaf, files)).toThrow(/does not match certificate's altnames/);
    const noCa = newModel();
    expect(() => runJob(renderMongoInitScript({ ...input, tlsCAFile: "/etc/ssl/other-ca.pem" }), noCa, files)).toThrow(/ENOENT/);
    const otherCa = newModel();
    expect(() => runJob(script, otherCa, { ...files, "/etc/mongo/tls/ca.pem": "-----BEGIN CERTIFICATE-----\nanother CA\n-----END CERTIFICATE-----\n" })).toThrow(/unable to verify/);
    for (const model of [notOnLeaf, noCa, otherCa]) {
      expect(model.initiateCalls).toBe(0);
      expect(model.users.size).toBe(0);
    }
  });

  it("the stand-in is strict: the same script with a plain connection string is closed by the server", () => {
    const plain = script.replace("&tls=true&tlsCAFile=/etc/mongo/tls/ca.pem", "");
    expect(plain).not.toBe(script);
    expect(() => runJob(plain, newModel(), files)).toThrow(/closed/);
  });

  it("no connection option that relaxes verification can be rendered", () => {
    // Spelled in pieces: tests/unit/no-unverified-tls.test.ts refuses the option in any file.
    const relaxing = ["tlsAllowInvalid", "Hostnames=true"].join("");
    expect(() => mongoClientUri({ host: "mongo", port: 27017, caFile: "/etc/mongo/tls/ca.pem", options: [relaxing] })).toThrow(
      `mongo client options: TLS is always on and verified; remove ${relaxing}`,
    );
    expect(() => mongoClientUri({ host: "mongo", port: 27017, caFile: "/etc/mongo/tls/ca.pem", options: ["tls=false"] })).toThrow(/remove tls=false/);
    expect(() => mongoClientUri({ host: "mongo", port: 27017, caFile: "ca.pem" })).toThrow('mongo client caFile: must be an absolute plain path (got "ca.pem")');
  });

  it("names unnamed indexes the way MongoDB does", () => {
    expect(mongoIndexName({ collection: "c", keys: { a: 1, b: -1 } })).toBe("a_1_b_-1");
    expect(mongoIndexName({ collection: "c", keys: { a: 1 }, name: "custom" })).toBe("custom");
  });

  it("property: for any declared services and indexes, two runs converge to the same state with exactly one initiation", () => {
    const field = fc.stringMatching(/^[a-z][a-zA-Z0-9]{0,8}$/);
    const index = fc.record({
      collection: fc.constantFrom("items", "events", "profiles"),
      keys: fc.dictionary(field, fc.constantFrom<1 | -1>(1, -1), { minKeys: 1, maxKeys: 3 }),
      unique: fc.boolean(),
    });
    const service = fc.record({
      service: fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/),
      indexes: fc.uniqueArray(index, { maxLength: 4, selector: (i) => `${i.collection}.${JSON.stringify(i.keys)}` }),
    });
    const services = fc.uniqueArray(service, { minLength: 1, maxLength: 4, selector: (s) => s.service });
    fc.assert(
      fc.property(services, fc.boolean(), (declared, alreadyInitiated) => {
        const serviceInputs = declared.map((s) => ({
          service: s.service,
          database: s.service.replace(/-/g, "_"),
          passwordFile: `/run/secrets/mongo/${s.service}-password`,
          indexes: s.indexes,
        }));
        const secretFiles: Record<string, string> = { "/etc/mongo/tls/ca.pem": CA_PEM, "/run/secrets/mongo/root-password": "RootPassword0123456789" };
        for (const s of serviceInputs) secretFiles[s.passwordFile] = `pw-${s.service}-Xy`;
        const rendered = renderMongoInitScript({ ...input, services: serviceInputs });
        const model = newModel();
        model.initiated = alreadyInitiated;
        model.primary = alreadyInitiated;
        runJob(rendered, model, secretFiles);
        const first = model.snapshot();
        runJob(rendered, model, secretFiles);
        expect(model.snapshot()).toEqual(first);
        expect(model.initiateCalls).toBe(alreadyInitiated ? 0 : 1);
        for (const s of serviceInputs) {
          expect(model.users.get(`${s.database}.${s.service}`)?.pwd).toBe(`pw-${s.service}-Xy`);
          for (const i of s.indexes) expect(model.indexes.has(`${s.database}.${i.collection}.${mongoIndexName(i)}`)).toBe(true);
        }
      }),
      { numRuns: 60 },
    );
  });
});

/** Hands out handles named after the workload, and keeps what it was given. */
class RecordingRuntime implements Runtime {
  readonly target = "docker" as const;
  readonly deployed: Workload[] = [];
  readonly jobs: Job[] = [];
  deploy(workload: Workload): DeployedWorkload {
    this.deployed.push(workload);
    return this.handle(workload.name, workload.ports.find((p) => p.name === "mongo")?.port ?? 0);
  }
  run(job: Job): DeployedWorkload {
    this.jobs.push(job);
    return this.handle(job.name, 0);
  }
  schedule(): DeployedWorkload {
    throw new Error("unexpected scheduled job");
  }
  private handle(name: string, port: number): DeployedWorkload {
    const host = pulumi.output(name);
    return { name, host, endpoint: () => host.apply((h) => ({ host: h, port })), resources: [] };
  }
}

function settled<T>(output: pulumi.Input<T>): Promise<T> {
  return new Promise((resolve) => pulumi.output(output).apply((value) => resolve(value as T)));
}

async function filesOf(owner: { files?: { path: string; content: pulumi.Input<string> }[] }): Promise<Record<string, string>> {
  const entries = await Promise.all((owner.files ?? []).map(async (f) => [f.path, await settled(f.content)] as const));
  return Object.fromEntries(entries);
}

describe("the init Job exactly as the Mongo component deploys it (same model, not a real mongod)", () => {
  it("run twice with the Job's own files: initiates once, and each service's user gets the password its connection carries", async () => {
    await pulumi.runtime.setMocks(
      {
        newResource(args: MockResourceArgs) {
          const state: Record<string, unknown> = { ...args.inputs };
          const seed = createHash("sha256").update(args.name).digest("hex");
          if (args.type === "random:index/randomPassword:RandomPassword") state.result = seed.repeat(24).slice(0, Number(args.inputs.length));
          if (args.type === "tls:index/privateKey:PrivateKey") state.privateKeyPem = `KEY ${seed}`;
          if (args.type.endsWith("Cert")) state.certPem = `CERT ${seed}`;
          if (args.type === "tls:index/certRequest:CertRequest") state.certRequestPem = `CSR ${seed}`;
          return { id: `${args.name}-id`, state };
        },
        call(args: MockCallArgs) {
          throw new Error(`Mock not implemented: ${args.token}`);
        },
      },
      "fundament",
      "unit",
      false,
    );
    const runtime = new RecordingRuntime();
    const pki = new PlatformPki("pki", { naming: { target: "docker" }, settings: { caValidityHours: 87_600, validityHours: 8_760, earlyRenewalHours: 720 } });
    const mongo = new Mongo("mongo", {
      runtime,
      image: "mongo:7.0.16",
      exporterImage: "percona/mongodb_exporter:0.47.1",
      resources: { cpu: 1, memoryMiB: 1024 },
      storageGiB: 5,
      databases: [
        { service: "users", database: "users", indexes: [{ collection: "accounts", keys: { email: 1 }, unique: true }] },
        { service: "config", database: "config_store", indexes: [{ collection: "entries", keys: { key: 1, version: -1 } }] },
      ],
      pki,
    });
    const jobFiles = await filesOf(runtime.jobs[0]);
    const serverFiles = await filesOf(runtime.deployed[0]);
    // The root user the image's entrypoint creates from its password file is the one the Job logs in as.
    // The server mongod is: its CA file and the names its leaf carries; the Job must verify both.
    const leaf = pki.leaves().find((l) => l.name === "mongo");
    expect(leaf?.dnsNames).toBeDefined();
    const model = new MongoModel({ port: 27017, caPem: serverFiles[MONGO_CA_PATH], leafNames: leaf?.dnsNames ?? [] }, serverFiles[MONGO_ROOT_PASSWORD_PATH]);
    expect(jobFiles[MONGO_CA_PATH]).toBe(await settled(pki.caCertPem));
    const script = jobFiles[MONGO_INIT_SCRIPT_PATH];
    runJob(script, model, jobFiles);
    runJob(script, model, jobFiles);
    expect(model.initiateCalls).toBe(1);
    expect(model.replicaSetConfig).toEqual({ _id: "rs0", members: [{ _id: 0, host: "mongo:27017" }] });
    for (const [service, output] of Object.entries(mongo.connections)) {
      const connection = await settled(output);
      expect(model.users.get(`${connection.database}.${service}`)).toEqual({
        pwd: connection.password,
        roles: [{ role: "readWrite", db: connection.database }],
      });
    }
    expect(model.users.has(`$external.${mongoExporterSubject("mongo-exporter")}`)).toBe(true);
    expect([...model.indexes.keys()].sort()).toEqual(["config_store.entries.key_1_version_-1", "users.accounts.email_1"]);
  });
});
