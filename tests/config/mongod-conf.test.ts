// No mongod binary exists on this machine (and none can be installed), so the rendered mongod.conf
// is parsed as YAML and every setting is checked against the MongoDB configuration-file reference
// (https://www.mongodb.com/docs/manual/reference/configuration-options/, 7.0 and 8.0): each key must be
// a documented option, with a documented value. What mongod itself would say is not tested here.
import fc from "fast-check";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { MONGO_MIN_MEMORY_MIB, mongoCacheSizeGB, renderMongodConf } from "../../components/database/mongo/mongod-conf";

type Check = (value: unknown) => boolean;
const oneOf = (...values: unknown[]): Check => (value) => values.includes(value);
const absolutePath: Check = (value) => typeof value === "string" && value.startsWith("/");
const isBoolean: Check = (value) => typeof value === "boolean";
const portNumber: Check = (value) => Number.isInteger(value) && (value as number) > 0 && (value as number) < 65536;

/** The documented options this renderer relies on, with the values the reference allows. */
const DOCUMENTED: Record<string, Check> = {
  "storage.dbPath": absolutePath,
  // "a float between 0.25 and 10000" (WiredTiger options).
  "storage.wiredTiger.engineConfig.cacheSizeGB": (v) => typeof v === "number" && v >= 0.25 && v <= 10000,
  "net.port": portNumber,
  "net.bindIpAll": isBoolean,
  "net.tls.mode": oneOf("disabled", "allowTLS", "preferTLS", "requireTLS"),
  "net.tls.certificateKeyFile": absolutePath,
  "net.tls.CAFile": absolutePath,
  "net.tls.allowConnectionsWithoutCertificates": isBoolean,
  // "TLS1_0, TLS1_1, TLS1_2, TLS1_3" as a comma-separated list, or "none" (net.tls.disabledProtocols).
  "net.tls.disabledProtocols": (v) => v === "none" || (typeof v === "string" && v.split(",").every((p) => ["TLS1_0", "TLS1_1", "TLS1_2", "TLS1_3"].includes(p))),
  "security.authorization": oneOf("enabled", "disabled"),
  "security.keyFile": absolutePath,
  "security.clusterAuthMode": oneOf("keyFile", "sendKeyFile", "sendX509", "x509"),
  "replication.replSetName": (v) => typeof v === "string" && v.length > 0,
  "operationProfiling.mode": oneOf("off", "slowOp", "all"),
  "operationProfiling.slowOpThresholdMs": (v) => Number.isInteger(v) && (v as number) >= 0,
  "systemLog.verbosity": (v) => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 5,
};

/** Removed options (journaling is always on since 6.1): mongod 7.0 and 8.0 refuse to start with them. */
const REMOVED = ["storage.journal.enabled", "net.ssl.mode", "net.serviceExecutor"];
/** Documented, and each would weaken what requireTLS is for: none may appear. */
const WEAKENING = ["net.tls.allowInvalidCertificates", "net.tls.allowInvalidHostnames", "net.tls.FIPSMode", "net.tls.certificateKeyFilePassword"];

function leaves(value: unknown, prefix = ""): [string, unknown][] {
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    return Object.entries(value as Record<string, unknown>).flatMap(([key, child]) => leaves(child, prefix ? `${prefix}.${key}` : key));
  }
  return [[prefix, value]];
}

const input = {
  memoryLimitMiB: 2048,
  dbPath: "/data/db",
  keyFilePath: "/run/secrets/mongo/keyfile",
  tlsCertificateKeyFile: "/run/secrets/mongo/server.pem",
  tlsCAFile: "/etc/mongo/tls/ca.pem",
};

describe("renderMongodConf (checked against the documented options, not by mongod)", () => {
  const conf = parse(renderMongodConf(input)) as Record<string, unknown>;
  const settings = new Map(leaves(conf));

  it.each([
    ["replication.replSetName", "rs0", "single-node replica set rs0"],
    ["security.keyFile", "/run/secrets/mongo/keyfile", "keyFile from its secret file"],
    ["security.authorization", "enabled", "users must authenticate"],
    ["security.clusterAuthMode", "keyFile", "members authenticate with the keyFile"],
    ["storage.dbPath", "/data/db", "data on the volume"],
    ["storage.wiredTiger.engineConfig.cacheSizeGB", 0.5, "cache from the 2 GiB limit, not the host's RAM"],
    ["net.port", 27017, "standard port"],
    ["net.tls.mode", "requireTLS", "plain text refused on every connection"],
    ["net.tls.certificateKeyFile", "/run/secrets/mongo/server.pem", "the leaf and its key"],
    ["net.tls.CAFile", "/etc/mongo/tls/ca.pem", "client certificates and the member's own peer verified against the platform CA"],
    ["net.tls.allowConnectionsWithoutCertificates", true, "SCRAM clients present no certificate; only the exporter does"],
    ["net.tls.disabledProtocols", "TLS1_0,TLS1_1", "TLS 1.2 and 1.3 only"],
  ] as [string, unknown, string][])("%s is %s (%s)", (key, value) => {
    expect(settings.get(key)).toBe(value);
  });

  it("uses only documented options, each with a documented value", () => {
    for (const [key, value] of settings) {
      expect(DOCUMENTED[key], `undocumented option ${key}`).toBeDefined();
      expect(DOCUMENTED[key](value), `${key}: ${JSON.stringify(value)}`).toBe(true);
    }
    for (const key of [...REMOVED, ...WEAKENING]) expect(settings.has(key), key).toBe(false);
  });

  it("leaves the official image's first-start phase a plain local server (it drops net, security, replication, systemLog)", () => {
    // docker-entrypoint.sh creates the root user on a temporary mongod started from the config
    // minus these sections; what remains must not need a keyFile, TLS or an initiated replica set.
    const temporary = { ...conf };
    for (const section of ["systemLog", "processManagement", "net", "security", "replication"]) delete temporary[section];
    expect(Object.keys(temporary).sort()).toEqual(["operationProfiling", "storage"]);
    // Every TLS setting lives under net, so requireTLS never reaches the temporary server; the
    // entrypoint adds --tlsMode disabled (mongod-component test: no TLS flag in the args), and its
    // plain mongosh on 127.0.0.1 can create the root user.
    expect(leaves(temporary).filter(([key]) => /tls|ssl/i.test(key))).toEqual([]);
    expect(leaves(conf).filter(([key]) => /tls|ssl/i.test(key)).every(([key]) => key.startsWith("net.tls."))).toBe(true);
  });

  it("refuses a memory limit below the minimum, naming the field", () => {
    expect(() => renderMongodConf({ ...input, memoryLimitMiB: 256 })).toThrow(/memoryLimitMiB: must be an integer of at least 512 \(got 256\)/);
  });

  it("property: the WiredTiger cache never takes more than half the container limit and respects the 0.25 GB floor", () => {
    fc.assert(
      fc.property(fc.integer({ min: MONGO_MIN_MEMORY_MIB, max: 1024 * 1024 }), (limit) => {
        const cacheGB = mongoCacheSizeGB(limit);
        expect(cacheGB).toBeGreaterThanOrEqual(0.25);
        expect(cacheGB * 1024).toBeLessThanOrEqual(limit / 2);
        // Whole hundredths of a GB: a readable value in the file, not a float's tail.
        expect(Math.abs(cacheGB * 100 - Math.round(cacheGB * 100))).toBeLessThan(1e-6);
        const rendered = new Map(leaves(parse(renderMongodConf({ ...input, memoryLimitMiB: limit }))));
        expect(rendered.get("storage.wiredTiger.engineConfig.cacheSizeGB")).toBe(cacheGB);
      }),
    );
  });
});
