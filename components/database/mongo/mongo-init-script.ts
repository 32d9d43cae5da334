// The mongosh script the init Job runs: initiate the replica set once, then converge users and
// indexes to what the config declares. Every step checks before it acts, so the Job can run on
// every change (and be retried) without harm. It is never run from a healthcheck.
import { mongoClientUri } from "./mongo-client-tls";

export interface MongoIndexSpec {
  collection: string;
  keys: Record<string, 1 | -1>;
  unique?: boolean;
  name?: string;
}

export interface MongoInitService {
  service: string;
  database: string;
  /** File (inside the Job) holding the service's password; the script reads it, it never embeds it. */
  passwordFile: string;
  indexes: MongoIndexSpec[];
}

export interface MongoInitScriptInput {
  /** The replica set member address: how the Job and every client reach mongod. */
  host: string;
  port: number;
  /** The platform CA inside the Job: mongod requires TLS, and the script verifies it by chain and host name. */
  tlsCAFile: string;
  replicaSet: string;
  rootUser: string;
  rootPasswordFile: string;
  services: MongoInitService[];
  /** RFC 2253 subject of the exporter's client certificate: its user name in $external. */
  exporterSubject: string;
  /** The backup job's user (role `backup` on admin: what mongodump --oplog needs, nothing more). */
  backup?: { user: string; passwordFile: string };
  /** How many one-second waits for mongod to accept connections and for the node to become primary. */
  waitSeconds?: number;
}

/** MongoDB's own default index name (`field_1_other_-1`), so an unnamed declaration maps to one stable index. */
export function mongoIndexName(index: MongoIndexSpec): string {
  return index.name ?? Object.entries(index.keys).map(([field, direction]) => `${field}_${direction}`).join("_");
}

interface InitPlan {
  uri: string;
  member: string;
  replicaSet: string;
  waitSeconds: number;
  root: { user: string; passwordFile: string };
  services: { service: string; database: string; passwordFile: string; indexes: { collection: string; keys: Record<string, 1 | -1>; options: { name: string; unique: boolean } }[] }[];
  exporterSubject: string;
  backup: { user: string; passwordFile: string } | null;
}

export function mongoInitPlan(input: MongoInitScriptInput): InitPlan {
  return {
    uri: mongoClientUri({ host: input.host, port: input.port, caFile: input.tlsCAFile, database: "admin" }),
    member: `${input.host}:${input.port}`,
    replicaSet: input.replicaSet,
    waitSeconds: input.waitSeconds ?? 180,
    root: { user: input.rootUser, passwordFile: input.rootPasswordFile },
    services: input.services.map((service) => ({
      service: service.service,
      database: service.database,
      passwordFile: service.passwordFile,
      indexes: service.indexes.map((index) => ({
        collection: index.collection,
        keys: index.keys,
        options: { name: mongoIndexName(index), unique: index.unique ?? false },
      })),
    })),
    exporterSubject: input.exporterSubject,
    backup: input.backup ?? null,
  };
}

// Plain mongosh JavaScript (no TypeScript), kept as one literal so the deployed text is exactly
// what the tests execute. Shell APIs used: connect, db.getSiblingDB, db.auth, db.hello, rs.status,
// rs.initiate, getUser/createUser/updateUser, getCollection().createIndex, require("fs"), sleep, print.
// Node's fs is taken with require(), the way mongosh's documentation shows ("Include External Files
// and Modules in Scripts"); a global `fs` exists in the interactive REPL but is not documented for
// --file scripts.
const SCRIPT_BODY = String.raw`
function readSecret(path) {
  return require("fs").readFileSync(path, "utf8").trim();
}

function connectWhenUp() {
  for (let attempt = 1; ; attempt++) {
    try {
      return connect(plan.uri);
    } catch (error) {
      if (attempt >= plan.waitSeconds) throw error;
      print("mongod not reachable yet (" + error.message + "), retrying");
      sleep(1000);
    }
  }
}

function replicaSetInitiated() {
  try {
    rs.status();
    return true;
  } catch (error) {
    if (error.code === 94 || error.codeName === "NotYetInitialized") return false;
    throw error;
  }
}

function waitForPrimary() {
  for (let attempt = 1; attempt <= plan.waitSeconds; attempt++) {
    if (db.hello().isWritablePrimary) return;
    sleep(1000);
  }
  throw new Error("node did not become primary of " + plan.replicaSet + " within " + plan.waitSeconds + " s");
}

function ensureUser(database, user, fields) {
  const target = db.getSiblingDB(database);
  if (target.getUser(user) === null) {
    target.createUser(Object.assign({ user: user }, fields));
    print("created user " + user + " in " + database);
  } else {
    // Converges roles and rotates the password when the generated one changed.
    target.updateUser(user, fields);
    print("updated user " + user + " in " + database);
  }
}

function ensureIndex(database, index) {
  try {
    db.getSiblingDB(database).getCollection(index.collection).createIndex(index.keys, index.options);
  } catch (error) {
    if (error.code === 85 || error.code === 86) {
      throw new Error(
        "index " + index.options.name + " on " + database + "." + index.collection +
        " exists with a different definition; drop it or give the new one another name (" + error.message + ")"
      );
    }
    throw error;
  }
  print("index " + index.options.name + " on " + database + "." + index.collection + " is in place");
}

db = connectWhenUp();
db.getSiblingDB("admin").auth(plan.root.user, readSecret(plan.root.passwordFile));

if (replicaSetInitiated()) {
  print("replica set " + plan.replicaSet + " already initiated");
} else {
  rs.initiate({ _id: plan.replicaSet, members: [{ _id: 0, host: plan.member }] });
  print("initiated replica set " + plan.replicaSet + " with member " + plan.member);
}
waitForPrimary();

for (const service of plan.services) {
  ensureUser(service.database, service.service, {
    pwd: readSecret(service.passwordFile),
    roles: [{ role: "readWrite", db: service.database }],
  });
  for (const index of service.indexes) ensureIndex(service.database, index);
}

ensureUser("$external", plan.exporterSubject, {
  roles: [
    { role: "clusterMonitor", db: "admin" },
    { role: "read", db: "local" },
  ],
});
if (plan.backup !== null) {
  ensureUser("admin", plan.backup.user, { pwd: readSecret(plan.backup.passwordFile), roles: [{ role: "backup", db: "admin" }] });
}
print("mongo init complete");
`;

export function renderMongoInitScript(input: MongoInitScriptInput): string {
  return [
    "// Rendered by fundament (components/database/mongo/mongo-init-script.ts); run with mongosh --nodb --file.",
    `const plan = ${JSON.stringify(mongoInitPlan(input), null, 2)};`,
    SCRIPT_BODY,
  ].join("\n");
}
