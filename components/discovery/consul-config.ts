/**
 * The Consul server agent's configuration, as JSON files for its -config-dir (the agent merges
 * every *.json there in lexical order). The plain part (this file's renderConsulServerConfig) and
 * the secret part (renderConsulSecretConfig: the gossip key and the agent's ACL tokens) are two
 * files, so the plain one can sit in a ConfigMap and the secrets only in a Secret.
 *
 * Options are those of Consul 1.22's agent configuration reference
 * (developer.hashicorp.com/consul/docs/reference/agent/configuration-file); the tests parse the
 * output into a typed model of those options that refuses unknown keys.
 */

/** Where the image's entrypoint points the agent (docker-entrypoint.sh: -data-dir, -config-dir). */
export const CONSUL_DATA_DIR = "/consul/data";
export const CONSUL_CONFIG_DIR = "/consul/config";
/** TLS material lives outside the config dir: the agent would try to parse any *.json there. */
export const CONSUL_TLS_DIR = "/consul/tls";
export const CONSUL_CA_PATH = `${CONSUL_TLS_DIR}/ca.pem`;
export const CONSUL_CERT_PATH = `${CONSUL_TLS_DIR}/server.pem`;
export const CONSUL_KEY_PATH = `${CONSUL_TLS_DIR}/server-key.pem`;

export const CONSUL_PORTS = {
  /** Server RPC (raft and forwarding), TLS with verify_incoming. */
  server: 8300,
  /** LAN gossip, encrypted with the gossip key. */
  serfLan: 8301,
  /** The HTTP API and UI, HTTPS only (plain HTTP is off). */
  https: 8501,
  dns: 8600,
} as const;

/** One health check Consul runs for an infrastructure workload (from the workload's readiness probe). */
export type ConsulCheck =
  | { kind: "tcp"; name: string; address: string; intervalSeconds: number; timeoutSeconds: number }
  | {
      kind: "http";
      name: string;
      url: string;
      intervalSeconds: number;
      timeoutSeconds: number;
      /** An https URL's certificate is checked for this name (the probe's), whatever host the URL dials. */
      tlsServerName?: string;
    };

/** An infrastructure workload the server registers in its catalogue. */
export interface ConsulServiceDefinition {
  id: string;
  name: string;
  /** The name other workloads dial. */
  address: string;
  port: number;
  tags: string[];
  checks: ConsulCheck[];
}

export interface ConsulServerConfigInput {
  datacenter: string;
  /** Number of servers: bootstrap_expect, and whether the servers must find each other. */
  servers: number;
  /** Set where the host name is not stable (a Docker container's is its id); StatefulSet pods are named already. */
  nodeName?: string;
  /** Names the servers resolve to find each other (empty for one server). */
  retryJoin: string[];
  /** How long Prometheus's scrape of /v1/agent/metrics keeps a gauge it has not seen updated. */
  prometheusRetentionSeconds: number;
  /** Registered with the `config_file_service_registration` token of the secret part. */
  services: ConsulServiceDefinition[];
  logLevel?: "TRACE" | "DEBUG" | "INFO" | "WARN" | "ERROR";
}

export interface ConsulSecretConfigInput {
  /** base64 of 32 random bytes. */
  gossipKey: string;
  /** The bootstrap (initial management) token's SecretID. */
  initialManagementToken: string;
  /** The servers' own agent token (node:write on their node names). */
  agentToken: string;
  /** Registers the services of the config files (service:write on exactly those names). */
  registrationToken: string;
  /** The token DNS answers with (read on nodes and services). */
  dnsToken: string;
}

const DATACENTER = /^[a-z0-9_-]+$/;

function seconds(value: number): string {
  return `${value}s`;
}

function checkJson(check: ConsulCheck, serviceId: string, index: number): Record<string, unknown> {
  const common = { id: `${serviceId}-${index}`, name: check.name, interval: seconds(check.intervalSeconds), timeout: seconds(check.timeoutSeconds) };
  if (check.kind === "tcp") return { ...common, tcp: check.address };
  return { ...common, http: check.url, method: "GET", ...(check.tlsServerName === undefined ? {} : { tls_server_name: check.tlsServerName }) };
}

/**
 * The plain server configuration. ACLs default to deny; plain HTTP is off (`ports.http = -1`),
 * the API and UI answer on HTTPS only; RPC and HTTPS verify the client's certificate against the
 * platform CA, and servers verify each other's host name (`server.<datacenter>.consul`).
 */
export function renderConsulServerConfig(input: ConsulServerConfigInput): string {
  const problems: string[] = [];
  if (!DATACENTER.test(input.datacenter)) problems.push(`datacenter: must be lower-case letters, digits, "-" or "_" (got ${JSON.stringify(input.datacenter)})`);
  if (!Number.isInteger(input.servers) || input.servers < 1 || input.servers % 2 === 0) {
    problems.push(`servers: must be an odd number of at least 1, so a quorum survives a loss (got ${input.servers})`);
  }
  if (input.servers > 1 && input.retryJoin.length === 0) problems.push("retryJoin: several servers need a name to find each other");
  const ids = new Set<string>();
  for (const service of input.services) {
    if (ids.has(service.id)) problems.push(`services: id ${service.id} appears twice`);
    ids.add(service.id);
    if (service.checks.length === 0) problems.push(`services.${service.id}: needs a check, or its health would not reflect reality`);
  }
  if (problems.length > 0) throw new Error(`consul server config:\n${problems.join("\n")}`);
  const config = {
    datacenter: input.datacenter,
    ...(input.nodeName === undefined ? {} : { node_name: input.nodeName }),
    server: true,
    bootstrap_expect: input.servers,
    data_dir: CONSUL_DATA_DIR,
    // One server talks to nobody but itself; several advertise the pod's only address.
    bind_addr: input.servers === 1 ? "127.0.0.1" : "0.0.0.0",
    client_addr: "0.0.0.0",
    ...(input.retryJoin.length > 0 ? { retry_join: input.retryJoin } : {}),
    log_level: input.logLevel ?? "INFO",
    log_json: true,
    disable_update_check: true,
    enable_script_checks: false,
    enable_local_script_checks: false,
    // HTTP checks present the server's certificate and verify the target against the platform CA.
    enable_agent_tls_for_checks: true,
    ui_config: { enabled: true },
    ports: { http: -1, https: CONSUL_PORTS.https, dns: CONSUL_PORTS.dns, server: CONSUL_PORTS.server, serf_lan: CONSUL_PORTS.serfLan, serf_wan: -1, grpc: -1, grpc_tls: -1 },
    dns_config: { only_passing: true, enable_truncate: true },
    acl: {
      enabled: true,
      default_policy: "deny",
      down_policy: "extend-cache",
      // No token persistence: the agent's tokens come from the secret config file, never from the
      // agent token API, so nothing would be persisted.
    },
    encrypt_verify_incoming: true,
    encrypt_verify_outgoing: true,
    tls: {
      defaults: {
        ca_file: CONSUL_CA_PATH,
        cert_file: CONSUL_CERT_PATH,
        key_file: CONSUL_KEY_PATH,
        verify_incoming: true,
        verify_outgoing: true,
        tls_min_version: "TLSv1_2",
      },
      internal_rpc: { verify_server_hostname: true },
    },
    telemetry: { prometheus_retention_time: seconds(input.prometheusRetentionSeconds), disable_hostname: true },
    services: input.services.map((service) => ({
      id: service.id,
      name: service.name,
      address: service.address,
      port: service.port,
      tags: service.tags,
      checks: service.checks.map((check, index) => checkJson(check, service.id, index)),
    })),
  };
  return `${JSON.stringify(config, null, 2)}\n`;
}

/** The secret part: gossip key and the agent's tokens. Delivered as a secret file beside the plain one. */
export function renderConsulSecretConfig(input: ConsulSecretConfigInput): string {
  const key = Buffer.from(input.gossipKey, "base64");
  if (key.length !== 32 || key.toString("base64") !== input.gossipKey) throw new Error("consul secret config: gossipKey: must be the base64 of exactly 32 bytes");
  const config = {
    encrypt: input.gossipKey,
    acl: { tokens: { initial_management: input.initialManagementToken, agent: input.agentToken, dns: input.dnsToken, config_file_service_registration: input.registrationToken } },
  };
  return `${JSON.stringify(config, null, 2)}\n`;
}
