// mongod.conf (YAML) for a single-node replica set with keyFile cluster auth, user auth and TLS
// required on every connection (clients, and mongod's own connections to the member it names).
import { stringify } from "yaml";

export const MONGO_PORT = 27017;
export const MONGO_REPLICA_SET = "rs0";

/** WiredTiger's own floor for cacheSizeGB. */
export const MONGO_MIN_CACHE_GB = 0.25;
/** Below this the cache floor would take more than half the container. */
export const MONGO_MIN_MEMORY_MIB = 512;

export interface MongodConfInput {
  memoryLimitMiB: number;
  dbPath: string;
  keyFilePath: string;
  /** PEM with the server certificate followed by its private key. */
  tlsCertificateKeyFile: string;
  /** The CA that signs the server and the client (exporter) certificates. */
  tlsCAFile: string;
  replicaSet?: string;
  port?: number;
}

/**
 * WiredTiger cache for a container limit. mongod sizes its default cache from the host's RAM
 * (50% of RAM minus 1 GB), which inside a container means the node's memory, not the limit: left
 * alone it overruns the limit and is OOM-killed. Same rule, applied to the limit; the other half
 * holds connections, index builds, aggregation buffers and the filesystem cache WiredTiger relies on.
 */
export function mongoCacheSizeGB(memoryLimitMiB: number): number {
  if (!Number.isInteger(memoryLimitMiB) || memoryLimitMiB < MONGO_MIN_MEMORY_MIB) {
    throw new Error(`mongo memoryLimitMiB: must be an integer of at least ${MONGO_MIN_MEMORY_MIB} (got ${memoryLimitMiB})`);
  }
  const halfMinusOneGiB = (memoryLimitMiB - 1024) / 2 / 1024;
  return Math.max(MONGO_MIN_CACHE_GB, Math.floor(halfMinusOneGiB * 100) / 100);
}

export interface MongodConf {
  storage: { dbPath: string; wiredTiger: { engineConfig: { cacheSizeGB: number } } };
  net: {
    port: number;
    bindIpAll: boolean;
    tls: {
      mode: "requireTLS";
      certificateKeyFile: string;
      CAFile: string;
      allowConnectionsWithoutCertificates: boolean;
      disabledProtocols: string;
    };
  };
  security: { authorization: "enabled"; keyFile: string; clusterAuthMode: "keyFile" };
  replication: { replSetName: string };
  operationProfiling: { mode: "slowOp"; slowOpThresholdMs: number };
  systemLog: { verbosity: number };
}

export function mongodConf(input: MongodConfInput): MongodConf {
  return {
    storage: { dbPath: input.dbPath, wiredTiger: { engineConfig: { cacheSizeGB: mongoCacheSizeGB(input.memoryLimitMiB) } } },
    net: {
      port: input.port ?? MONGO_PORT,
      // Reachability is the zone's job (backend only); inside it, every peer may connect.
      bindIpAll: true,
      tls: {
        // Plain text is refused. The image's first-start phase is unaffected: its temporary
        // localhost-only mongod runs from this file minus `net` (and with --tlsMode disabled),
        // see mongo-workloads.ts.
        mode: "requireTLS",
        certificateKeyFile: input.tlsCertificateKeyFile,
        CAFile: input.tlsCAFile,
        // Services, the init Job and the backup log in with SCRAM over TLS and present no
        // certificate; only the exporter does (X.509). A certificate that is presented is verified.
        allowConnectionsWithoutCertificates: true,
        // TLS 1.2 and 1.3 only, as the platform's other servers.
        disabledProtocols: "TLS1_0,TLS1_1",
      },
    },
    security: { authorization: "enabled", keyFile: input.keyFilePath, clusterAuthMode: "keyFile" },
    replication: { replSetName: input.replicaSet ?? MONGO_REPLICA_SET },
    operationProfiling: { mode: "slowOp", slowOpThresholdMs: 100 },
    systemLog: { verbosity: 0 },
  };
}

export function renderMongodConf(input: MongodConfInput): string {
  return `# Rendered by fundament (components/database/mongo/mongod-conf.ts); local edits are overwritten.\n${stringify(mongodConf(input))}`;
}
