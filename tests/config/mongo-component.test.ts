/*
 * The Mongo component through Pulumi's mock engine, against a runtime that records the Workloads
 * and Job it is handed (the component never talks to Docker or Kubernetes). No mongod runs here;
 * the checks are on what would be deployed: zones, secret files and their modes, the rendered
 * config pointing at the files that are actually mounted, and the outputs.
 */
import * as pulumi from "@pulumi/pulumi";
import { parse } from "yaml";
import { beforeAll, describe, expect, it } from "vitest";
import { Mongo, MongoArgs, MongoConnection } from "../../components/database/mongo/mongo";
import { MongoBackup } from "../../components/database/backups/mongo-backup";
import { MONGO_BACKUP_USER, renderMongoBackupScript } from "../../components/database/backups/mongo-backup-script";
import { mongoInitPlan } from "../../components/database/mongo/mongo-init-script";
import { MONGOD_CONF_PATH, MONGO_EXPORTER_CA_PATH, MONGO_EXPORTER_PEM_PATH, MONGO_INIT_SCRIPT_PATH, MONGO_KEYFILE_COPY_PATH, MONGO_KEYFILE_PATH } from "../../components/database/mongo/mongo-workloads";
import type { Probe } from "../../components/runtime/workload";
import { PlatformPki } from "../../components/pki";
import { Runtime, WorkloadFile } from "../../components/runtime/workload";
import { ComponentMocks, mockComponentEngine } from "./component-mocks";
import { RecordingRuntime, settled } from "./recording-runtime";

let registered: ComponentMocks["registered"] = [];
let generatedSecrets = new Set<string>();

beforeAll(async () => {
  ({ registered, generatedSecrets } = await mockComponentEngine());
});



// One CA for the file: the argument checks below must register nothing of their own.
let pki: PlatformPki | undefined;
const args = (runtime: Runtime): MongoArgs => ({
  runtime,
  image: "mongo:7.0.16",
  exporterImage: "percona/mongodb_exporter:0.47.1",
  resources: { cpu: 1, memoryMiB: 2048 },
  storageGiB: 10,
  databases: [
    { service: "users", database: "users", indexes: [{ collection: "accounts", keys: { email: 1 }, unique: true }] },
    { service: "gpu-jobs", database: "gpu_jobs", indexes: [] },
  ],
  pki: (pki ??= new PlatformPki("pki", { naming: { target: "kubernetes", namespace: "fundament" }, settings: { caValidityHours: 87_600, validityHours: 8_760, earlyRenewalHours: 720 } })),
});

function file(owner: { name: string; files?: WorkloadFile[] }, path: string): WorkloadFile {
  const found = owner.files?.find((f) => f.path === path);
  if (!found) throw new Error(`${owner.name} has no file ${path}`);
  return found;
}

describe("Mongo component", () => {
  const runtime = new RecordingRuntime("kubernetes");
  let component: Mongo;

  beforeAll(() => {
    component = new Mongo("mongo", args(runtime));
    new MongoBackup("mongo-backup", { runtime, image: "mongo:8.0.12-noble", mongo: component, schedule: "17 3 * * *", retention: 7, volumeSizeGiB: 10 });
  });

  it("deploys mongod in backend only, the init Job in backend after mongod, the exporter in backend + monitoring", () => {
    const [server, exporter] = runtime.deployed;
    const [job] = runtime.jobs;
    expect(server.zones).toEqual(["backend"]);
    expect(server.storage).toEqual([{ name: "data", path: "/data/db", sizeGiB: 10 }]);
    expect(server.user).toEqual({ uid: 999, gid: 999 });
    expect(job.name).toBe("mongo-init");
    expect(job.zones).toEqual(["backend"]);
    expect(job.dependsOn).toEqual([component.workload]);
    expect(job.command).toContain(MONGO_INIT_SCRIPT_PATH);
    expect(exporter.zones).toEqual(["backend", "monitoring"]);
    expect(exporter.metrics).toEqual({ port: 9216, path: "/metrics" });
    expect(exporter.dependsOn).toEqual([component.workload, component.initJob]);
  });

  it("mongod.conf points at the keyFile, certificate and CA actually mounted, with the modes mongod demands", async () => {
    const server = runtime.deployed[0];
    const conf = parse(await settled(file(server, MONGOD_CONF_PATH).content)) as {
      security: { keyFile: string };
      net: { tls: { certificateKeyFile: string; CAFile: string } };
      replication: { replSetName: string };
    };
    expect(conf.replication.replSetName).toBe("rs0");
    // mongod reads a private 0400 copy made at start (a Kubernetes fsGroup makes the mount 0440).
    expect(conf.security.keyFile).toBe(MONGO_KEYFILE_COPY_PATH);
    expect(server.args?.[2]).toContain(`install -m 0400 ${MONGO_KEYFILE_PATH} ${MONGO_KEYFILE_COPY_PATH} && exec docker-entrypoint.sh mongod --config ${MONGOD_CONF_PATH}`);
    const keyFile = file(server, MONGO_KEYFILE_PATH);
    expect(keyFile).toMatchObject({ secret: true, mode: 0o400 });
    const keyFileContent = await settled(keyFile.content);
    expect(keyFileContent).toMatch(/^[A-Za-z0-9]{756}$/);
    expect(file(server, conf.net.tls.certificateKeyFile)).toMatchObject({ secret: true, mode: 0o400 });
    expect(await settled(file(server, conf.net.tls.certificateKeyFile).content)).toMatch(/BEGIN CERTIFICATE[\s\S]*BEGIN RSA PRIVATE KEY/);
    expect(file(server, conf.net.tls.CAFile).secret).toBeFalsy();
  });

  it("hands the root password to the image as a file, never as a value", async () => {
    const server = runtime.deployed[0];
    const path = await settled(server.env?.MONGO_INITDB_ROOT_PASSWORD_FILE ?? "");
    expect(file(server, path)).toMatchObject({ secret: true, mode: 0o400 });
    expect(server.env?.MONGO_INITDB_ROOT_PASSWORD).toBeUndefined();
  });

  it("puts generated secrets only in files marked secret, never in plain files, environment or the init script", async () => {
    expect(generatedSecrets.size).toBeGreaterThan(0);
    for (const owner of [...runtime.deployed, ...runtime.jobs, ...runtime.scheduled]) {
      for (const f of owner.files ?? []) {
        const content = await settled(f.content);
        if ([...generatedSecrets].some((secret) => content.includes(secret))) expect(f.secret, `${owner.name}:${f.path}`).toBe(true);
      }
      for (const [name, value] of Object.entries(owner.env ?? {})) {
        const text = await settled(value);
        for (const secret of generatedSecrets) expect(text, `${owner.name} env ${name}`).not.toContain(secret);
      }
    }
  });

  it("the backup job's mongodump config carries the password the init job creates the backup user with (role backup on admin)", async () => {
    const backup = runtime.scheduled.find((j) => j.name === "mongo-backup");
    expect(backup?.zones).toEqual(["backend"]);
    expect(backup?.dependsOn).toEqual([component.workload, component.initJob]);
    const config = backup?.files?.find((f) => f.path.endsWith("mongodump.yaml"));
    expect(config).toMatchObject({ secret: true, mode: 0o400 });
    const { uri } = parse(await settled(config?.content ?? "")) as { uri: string };
    const password = decodeURIComponent(new URL(uri).password);
    expect(generatedSecrets.has(password)).toBe(true);
    expect(decodeURIComponent(new URL(uri).username)).toBe(MONGO_BACKUP_USER);
    const [init] = runtime.jobs;
    const script = await settled(init.files?.find((f) => f.path === MONGO_INIT_SCRIPT_PATH)?.content ?? "");
    const planned = JSON.parse(/const plan = (\{[\s\S]*?\n\});/.exec(script)?.[1] ?? "{}") as ReturnType<typeof mongoInitPlan>;
    expect(planned.backup?.user).toBe(MONGO_BACKUP_USER);
    const passwordFile = init.files?.find((f) => f.path === planned.backup?.passwordFile);
    expect(await settled(passwordFile?.content ?? "")).toBe(password);
    expect(passwordFile?.secret).toBe(true);
    const caFile = backup?.files?.find((f) => f.path.endsWith("-ca.crt"));
    expect(await settled(backup?.files?.find((f) => f.path.endsWith(".sh"))?.content ?? "")).toBe(
      renderMongoBackupScript({ backupDir: "/data/db/backups", retention: 7, configFile: config?.path ?? "", caFile: caFile?.path ?? "" }),
    );
  });

  it("the exporter authenticates by certificate: no password in its URI, key and CA mounted as files", async () => {
    const exporter = runtime.deployed[1];
    const uri = new URL(await settled(exporter.env?.MONGODB_URI ?? ""));
    expect(uri.password).toBe("");
    expect(uri.searchParams.get("authMechanism")).toBe("MONGODB-X509");
    expect(uri.searchParams.get("tlsCertificateKeyFile")).toBe(MONGO_EXPORTER_PEM_PATH);
    expect(uri.searchParams.get("tlsCAFile")).toBe(MONGO_EXPORTER_CA_PATH);
    expect(file(exporter, MONGO_EXPORTER_PEM_PATH)).toMatchObject({ secret: true, mode: 0o400 });
    expect(await settled(file(exporter, MONGO_EXPORTER_CA_PATH).content)).toBe(await settled(file(runtime.deployed[0], "/etc/mongo/tls/ca.pem").content));
  });

  it("every client of mongod speaks TLS, verifies against the platform CA it mounts, and dials a name on mongod's leaf", async () => {
    const caPem = await settled(component.caCertPem);
    expect(caPem).toMatch(/BEGIN CERTIFICATE/);
    const leafNames = pki?.leaves().find((leaf) => leaf.name === "mongo")?.dnsNames ?? [];
    expect(leafNames).toEqual(expect.arrayContaining(["mongo", "localhost"]));
    /** The CA file a client names must be mounted in that client, holding the platform CA. */
    const expectCaMounted = async (owner: { name: string; files?: WorkloadFile[] }, path: string) => {
      const mounted = file(owner, path);
      expect(mounted.secret, `${owner.name}:${path}`).toBeFalsy();
      expect(await settled(mounted.content), `${owner.name}:${path}`).toBe(caPem);
    };
    const [server, exporter] = runtime.deployed;
    const conf = parse(await settled(file(server, MONGOD_CONF_PATH).content)) as { net: { tls: { mode: string; CAFile: string } } };
    expect(conf.net.tls.mode).toBe("requireTLS");

    // The probes: mongosh <uri> --tls --tlsCAFile <ca>, dialling localhost, which the leaf carries.
    const probes = [server.health.startup, server.health.readiness, server.health.liveness].filter((p): p is Probe => p !== undefined);
    expect(probes).toHaveLength(3);
    for (const probe of probes) {
      if (probe.kind !== "exec") throw new Error(`mongo probe is ${probe.kind}, not a mongosh command`);
      const [program, uri, ...flags] = probe.command;
      expect(program).toBe("mongosh");
      const url = new URL(uri);
      expect(leafNames).toContain(url.hostname);
      expect(url.port).toBe("27017");
      expect(url.searchParams.get("directConnection")).toBe("true");
      const tls = flags.indexOf("--tls");
      expect(tls).toBeGreaterThanOrEqual(0);
      expect(flags[flags.indexOf("--tlsCAFile") + 1]).toBe(conf.net.tls.CAFile);
      await expectCaMounted(server, conf.net.tls.CAFile);
    }

    // The init Job's connection string.
    const [job] = runtime.jobs;
    const script = await settled(file(job, MONGO_INIT_SCRIPT_PATH).content);
    const plan = JSON.parse(/const plan = (\{[\s\S]*?\n\});/.exec(script)?.[1] ?? "{}") as ReturnType<typeof mongoInitPlan>;
    const initUri = new URL(plan.uri);
    expect(leafNames).toContain(initUri.hostname);
    expect(initUri.searchParams.get("tls")).toBe("true");
    await expectCaMounted(job, initUri.searchParams.get("tlsCAFile") ?? "");
    // The member the replica set names is what mongod itself dials (over TLS, verified the same way).
    expect(leafNames).toContain(plan.member.split(":")[0]);

    // The backup job: the host in its URI, the CA its script names.
    const backup = runtime.scheduled.find((j) => j.name === "mongo-backup");
    if (!backup) throw new Error("no mongo-backup job");
    const { uri } = parse(await settled(backup.files?.find((f) => f.path.endsWith("mongodump.yaml"))?.content ?? "")) as { uri: string };
    expect(leafNames).toContain(new URL(uri).hostname);
    const backupScript = await settled(file(backup, "/etc/fundament/mongo-backup.sh").content);
    const sslCaFile = /mongodump [^\n]*--ssl --sslCAFile='([^']+)'/.exec(backupScript)?.[1] ?? "";
    await expectCaMounted(backup, sslCaFile);

    // The exporter.
    const exporterUri = new URL(await settled(exporter.env?.MONGODB_URI ?? ""));
    expect(leafNames).toContain(exporterUri.hostname);
    expect(exporterUri.searchParams.get("tls")).toBe("true");
    await expectCaMounted(exporter, exporterUri.searchParams.get("tlsCAFile") ?? "");

    // The services' connection settings.
    for (const output of Object.values(component.connections)) {
      const connection = await settled(output);
      expect(connection.tls).toBe(true);
      expect(connection.caCertPem).toBe(caPem);
      expect(leafNames).toContain(connection.host);
    }

    // mongod's own arguments carry no TLS flag: the image's first-start phase decides its
    // temporary server's TLS mode from them (--tlsCertificateKeyFile there would make it allowTLS).
    expect((server.args ?? []).join(" ")).not.toMatch(/--(tls|ssl)/);
  });

  it("nothing deployed turns TLS off or relaxes its verification", async () => {
    const texts: [string, string][] = [];
    for (const owner of [...runtime.deployed, ...runtime.jobs, ...runtime.scheduled]) {
      for (const f of owner.files ?? []) texts.push([`${owner.name}:${f.path}`, await settled(f.content)]);
      for (const [name, value] of Object.entries(owner.env ?? {})) texts.push([`${owner.name} env ${name}`, await settled(value)]);
      texts.push([`${owner.name} command`, [...(owner.command ?? []), ...(owner.args ?? [])].join(" ")]);
      for (const probe of Object.values("health" in owner ? owner.health : {})) if (probe?.kind === "exec") texts.push([`${owner.name} probe`, probe.command.join(" ")]);
    }
    expect(texts.length).toBeGreaterThan(10);
    for (const [where, text] of texts) {
      expect(text, where).not.toMatch(/tlsInsecure|AllowInvalid|(tls|ssl)=false|preferTLS|allowTLS|mode: disabled/i);
    }
  });

  it("outputs one secret connection per service: its own database, user and password, replica set rs0", async () => {
    expect(Object.keys(component.connections).sort()).toEqual(["gpu-jobs", "users"]);
    const job = runtime.jobs[0];
    for (const [service, output] of Object.entries(component.connections)) {
      expect(await pulumi.isSecret(output)).toBe(true);
      const connection: MongoConnection = await settled(output);
      expect(connection).toMatchObject({ host: "mongo", port: 27017, user: service, replicaSet: "rs0", tls: true });
      // The password the service gets is the one the init Job sets for it.
      expect(await settled(file(job, `/run/secrets/mongo/${service}-password`).content)).toBe(connection.password);
    }
    expect((await settled(component.connections["gpu-jobs"])).database).toBe("gpu_jobs");
  });
});

describe("Mongo component argument checks", () => {
  it("names every bad field in one error and registers nothing", () => {
    const before = registered.length;
    const runtime = new RecordingRuntime("kubernetes");
    let message = "";
    try {
      new Mongo("bad-mongo", {
        ...args(runtime),
        exporterImage: "percona/mongodb_exporter:latest",
        resources: { cpu: 1, memoryMiB: 256 },
        databases: [
          { service: "users", database: "admin", indexes: [] },
          { service: "users", database: "my.db", indexes: [{ collection: "a", keys: { x: 2 as never } }] },
          { service: "billing", database: "billing", indexes: [{ collection: "system.users", keys: {} }] },
        ],
      });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message.split("\n")).toEqual([
      'fundament:database.mongo.exporterImage: must carry a pinned tag or digest, not "latest" (got "percona/mongodb_exporter:latest")',
      "fundament:database.mongo.resources.memoryMiB: must be an integer of at least 512, WiredTiger's cache floor is 256 MiB (got 256)",
      `fundament:database.mongo.databases[0].database: "admin" is MongoDB's own database; give the service its own`,
      'fundament:database.mongo.databases[1].service: "users" is listed twice; one database per service',
      'fundament:database.mongo.databases[1].database: must match /^[a-zA-Z][a-zA-Z0-9_-]{0,62}$/ (got "my.db")',
      "fundament:database.mongo.databases[1].indexes[0].keys.x: must be 1 or -1 (got 2)",
      'fundament:database.mongo.databases[2].indexes[0].collection: must be a non-empty name without "$", not in the system. namespace (got "system.users")',
      "fundament:database.mongo.databases[2].indexes[0].keys: must map at least one field to 1 or -1 (got {})",
    ]);
    expect(registered.length).toBe(before);
    expect(runtime.deployed).toEqual([]);
  });
});
