/**
 * A typed model of Consul 1.22's documented agent configuration options and ACL rule language,
 * built from the documentation (developer.hashicorp.com/consul/docs/reference/agent/configuration-file
 * and .../secure/acl/rule) and the keys of agent/config/config.go. No Consul binary runs here
 * (no Debian package), so this model is what the rendered files are checked against: an unknown
 * key, a wrong type or a value outside the documented set is refused with its path, as the agent
 * refuses a config file with an unknown key ("invalid config key").
 */

type Shape =
  | { kind: "string"; oneOf?: readonly string[]; pattern?: RegExp }
  | { kind: "int"; min?: number; max?: number }
  | { kind: "bool" }
  | { kind: "duration" }
  | { kind: "array"; of: Shape }
  | { kind: "object"; fields: Record<string, Shape> }
  | { kind: "map"; of: Shape };

const str = (oneOf?: readonly string[]): Shape => ({ kind: "string", ...(oneOf ? { oneOf } : {}) });
const int = (min?: number, max?: number): Shape => ({ kind: "int", ...(min === undefined ? {} : { min }), ...(max === undefined ? {} : { max }) });
const bool: Shape = { kind: "bool" };
const duration: Shape = { kind: "duration" };
const obj = (fields: Record<string, Shape>): Shape => ({ kind: "object", fields });
const arr = (of: Shape): Shape => ({ kind: "array", of });
/** A port: -1 turns the listener off. */
const port = int(-1, 65535);

const TLS_VERSIONS = ["TLSv1_0", "TLSv1_1", "TLSv1_2", "TLSv1_3"] as const;
const tlsStanza = (extra: Record<string, Shape> = {}): Shape =>
  obj({
    ca_file: str(),
    ca_path: str(),
    cert_file: str(),
    key_file: str(),
    tls_min_version: str(TLS_VERSIONS),
    tls_cipher_suites: str(),
    verify_incoming: bool,
    verify_outgoing: bool,
    ...extra,
  });

const check: Shape = obj({
  id: str(),
  name: str(),
  notes: str(),
  service_id: str(),
  token: str(),
  status: str(["passing", "warning", "critical"]),
  interval: duration,
  timeout: duration,
  tcp: str(),
  tcp_use_tls: bool,
  http: str(),
  method: str(["GET", "HEAD", "POST", "PUT"]),
  header: { kind: "map", of: arr(str()) },
  body: str(),
  disable_redirects: bool,
  tls_server_name: str(),
  tls_skip_verify: bool,
  grpc: str(),
  grpc_use_tls: bool,
  ttl: duration,
  args: arr(str()),
  docker_container_id: str(),
  shell: str(),
  success_before_passing: int(0),
  failures_before_warning: int(0),
  failures_before_critical: int(0),
  deregister_critical_service_after: duration,
});

const service: Shape = obj({
  id: str(),
  name: str(),
  kind: str(),
  tags: arr(str()),
  address: str(),
  port: int(0, 65535),
  meta: { kind: "map", of: str() },
  enable_tag_override: bool,
  token: str(),
  check,
  checks: arr(check),
  weights: obj({ passing: int(1), warning: int(0) }),
});

const CONSUL_AGENT_CONFIG: Shape = obj({
  acl: obj({
    enabled: bool,
    default_policy: str(["allow", "deny"]),
    down_policy: str(["allow", "deny", "extend-cache", "async-cache"]),
    enable_token_persistence: bool,
    enable_token_replication: bool,
    policy_ttl: duration,
    role_ttl: duration,
    token_ttl: duration,
    enable_key_list_policy: bool,
    tokens: obj({
      initial_management: str(),
      agent: str(),
      agent_recovery: str(),
      config_file_service_registration: str(),
      default: str(),
      dns: str(),
      replication: str(),
    }),
  }),
  addresses: obj({ dns: str(), http: str(), https: str(), grpc: str(), grpc_tls: str() }),
  advertise_addr: str(),
  advertise_addr_wan: str(),
  auto_encrypt: obj({ allow_tls: bool, tls: bool, dns_san: arr(str()), ip_san: arr(str()) }),
  autopilot: obj({ cleanup_dead_servers: bool, last_contact_threshold: duration, max_trailing_logs: int(0), min_quorum: int(0), server_stabilization_time: duration }),
  bind_addr: str(),
  bootstrap: bool,
  bootstrap_expect: int(1),
  check_update_interval: duration,
  client_addr: str(),
  data_dir: str(),
  datacenter: { kind: "string", pattern: /^[a-z0-9_-]+$/ },
  disable_host_node_id: bool,
  disable_remote_exec: bool,
  disable_update_check: bool,
  dns_config: obj({
    allow_stale: bool,
    max_stale: duration,
    node_ttl: duration,
    service_ttl: { kind: "map", of: duration },
    enable_truncate: bool,
    only_passing: bool,
    recursor_timeout: duration,
    udp_answer_limit: int(1),
    a_record_limit: int(0),
    use_cache: bool,
  }),
  domain: str(),
  enable_agent_tls_for_checks: bool,
  enable_central_service_config: bool,
  enable_debug: bool,
  enable_local_script_checks: bool,
  enable_script_checks: bool,
  enable_syslog: bool,
  encrypt: str(),
  encrypt_verify_incoming: bool,
  encrypt_verify_outgoing: bool,
  leave_on_terminate: bool,
  limits: obj({ http_max_conns_per_client: int(0), rpc_max_conns_per_client: int(0), rpc_rate: int(0), rpc_max_burst: int(0) }),
  log_file: str(),
  log_json: bool,
  log_level: str(["TRACE", "DEBUG", "INFO", "WARN", "ERR", "ERROR"]),
  node_meta: { kind: "map", of: str() },
  node_name: str(),
  performance: obj({ leave_drain_time: duration, raft_multiplier: int(1, 10), rpc_hold_timeout: duration }),
  ports: obj({ dns: port, http: port, https: port, grpc: port, grpc_tls: port, serf_lan: port, serf_wan: port, server: port, sidecar_min_port: port, sidecar_max_port: port }),
  primary_datacenter: str(),
  raft_protocol: int(3, 3),
  reconnect_timeout: duration,
  recursors: arr(str()),
  rejoin_after_leave: bool,
  retry_interval: duration,
  retry_join: arr(str()),
  retry_max: int(0),
  server: bool,
  service: service,
  services: arr(service),
  skip_leave_on_interrupt: bool,
  telemetry: obj({
    disable_hostname: bool,
    disable_compat_1_9: bool,
    prometheus_retention_time: duration,
    metrics_prefix: str(),
    statsd_address: str(),
    dogstatsd_addr: str(),
    filter_default: bool,
    prefix_filter: arr(str()),
  }),
  tls: obj({
    defaults: tlsStanza(),
    grpc: tlsStanza({ use_auto_cert: bool }),
    https: tlsStanza(),
    internal_rpc: tlsStanza({ verify_server_hostname: bool }),
  }),
  ui_config: obj({ enabled: bool, dir: str(), content_path: str(), metrics_provider: str(), metrics_proxy: obj({ base_url: str() }) }),
});

const DURATION = /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/;

function check_(shape: Shape, value: unknown, path: string, problems: string[]): void {
  switch (shape.kind) {
    case "string":
      if (typeof value !== "string") problems.push(`${path}: must be a string (got ${JSON.stringify(value)})`);
      else if (shape.oneOf && !shape.oneOf.includes(value)) problems.push(`${path}: must be one of ${shape.oneOf.join(", ")} (got ${JSON.stringify(value)})`);
      else if (shape.pattern && !shape.pattern.test(value)) problems.push(`${path}: does not match ${String(shape.pattern)} (got ${JSON.stringify(value)})`);
      return;
    case "int":
      if (typeof value !== "number" || !Number.isInteger(value)) problems.push(`${path}: must be an integer (got ${JSON.stringify(value)})`);
      else if ((shape.min !== undefined && value < shape.min) || (shape.max !== undefined && value > shape.max)) problems.push(`${path}: out of range (got ${value})`);
      return;
    case "bool":
      if (typeof value !== "boolean") problems.push(`${path}: must be true or false (got ${JSON.stringify(value)})`);
      return;
    case "duration":
      if (typeof value !== "string" || !DURATION.test(value)) problems.push(`${path}: must be a Go duration such as "10s" (got ${JSON.stringify(value)})`);
      return;
    case "array":
      if (!Array.isArray(value)) problems.push(`${path}: must be a list (got ${JSON.stringify(value)})`);
      else value.forEach((item, index) => check_(shape.of, item, `${path}[${index}]`, problems));
      return;
    case "map":
    case "object": {
      if (typeof value !== "object" || value === null || Array.isArray(value)) {
        problems.push(`${path}: must be an object (got ${JSON.stringify(value)})`);
        return;
      }
      for (const [key, inner] of Object.entries(value)) {
        const where = path === "" ? key : `${path}.${key}`;
        if (shape.kind === "map") check_(shape.of, inner, where, problems);
        else if (!(key in shape.fields)) problems.push(`${where}: unknown key`);
        else check_(shape.fields[key], inner, where, problems);
      }
    }
  }
}

/** Problems of one agent configuration file (its parsed JSON), one line each; empty when valid. */
export function consulConfigProblems(config: unknown): string[] {
  const problems: string[] = [];
  check_(CONSUL_AGENT_CONFIG, config, "", problems);
  return problems;
}

/** How the agent merges its config-dir files: objects merge key by key, lists append, scalars: the later file wins. */
export function mergeConsulConfigs(...files: Record<string, unknown>[]): Record<string, unknown> {
  const merge = (a: unknown, b: unknown): unknown => {
    if (Array.isArray(a) && Array.isArray(b)) return [...a, ...b];
    if (typeof a === "object" && a !== null && typeof b === "object" && b !== null && !Array.isArray(a) && !Array.isArray(b)) {
      const out: Record<string, unknown> = { ...(a as Record<string, unknown>) };
      for (const [key, value] of Object.entries(b)) out[key] = key in out ? merge(out[key], value) : value;
      return out;
    }
    return b;
  };
  return files.reduce<Record<string, unknown>>((acc, file) => merge(acc, file) as Record<string, unknown>, {});
}

// ---- ACL rules ----

export type Access = "read" | "write" | "deny";
const RESOURCES = ["agent", "event", "identity", "key", "node", "query", "service", "session"] as const;
export type Resource = (typeof RESOURCES)[number];
const SCALARS = ["acl", "keyring", "mesh", "operator", "peering"] as const;

/** Problems of a policy's JSON rules against the documented rule language. */
export function aclRulesProblems(rules: unknown): string[] {
  const problems: string[] = [];
  if (typeof rules !== "object" || rules === null || Array.isArray(rules)) return [`rules: must be an object`];
  for (const [key, value] of Object.entries(rules)) {
    if ((SCALARS as readonly string[]).includes(key)) {
      if (!["read", "write", "deny"].includes(value as string)) problems.push(`${key}: must be read, write or deny (got ${JSON.stringify(value)})`);
      continue;
    }
    const resource = key.replace(/_prefix$/, "");
    if (!(RESOURCES as readonly string[]).includes(resource)) {
      problems.push(`${key}: unknown rule resource`);
      continue;
    }
    if (typeof value !== "object" || value === null) {
      problems.push(`${key}: must map names to {policy}`);
      continue;
    }
    for (const [name, rule] of Object.entries(value)) {
      const fields = Object.keys(rule as object);
      const allowed = resource === "service" ? ["policy", "intentions"] : resource === "key" ? ["policy"] : ["policy"];
      for (const field of fields) if (!allowed.includes(field)) problems.push(`${key}.${name}.${field}: unknown key`);
      const policy = (rule as { policy?: unknown }).policy;
      const values = resource === "key" ? ["read", "write", "deny", "list"] : ["read", "write", "deny"];
      if (!values.includes(policy as string)) problems.push(`${key}.${name}.policy: must be one of ${values.join(", ")} (got ${JSON.stringify(policy)})`);
    }
  }
  return problems;
}

/**
 * Whether rules grant `access` on `resource` `name`, by Consul's documented semantics: an exact
 * rule for the name wins over prefix rules; among prefix rules the longest matching prefix wins;
 * `write` includes `read`; `deny` refuses both; nothing matching falls to the default policy,
 * which is deny here (acl.default_policy).
 */
export function aclAllows(rules: Record<string, unknown>, resource: Resource, name: string, access: "read" | "write"): boolean {
  const exact = (rules[resource] as Record<string, { policy: Access }> | undefined)?.[name]?.policy;
  let decided: Access | undefined = exact;
  if (decided === undefined) {
    const prefixes = Object.entries((rules[`${resource}_prefix`] as Record<string, { policy: Access }> | undefined) ?? {}).filter(([prefix]) => name.startsWith(prefix));
    prefixes.sort((a, b) => b[0].length - a[0].length);
    decided = prefixes[0]?.[1].policy;
  }
  if (decided === undefined || decided === "deny") return false;
  return access === "read" ? true : decided === "write";
}

/** Scalar resources (acl, operator, ...): absent means the default policy (deny). */
export function aclAllowsScalar(rules: Record<string, unknown>, resource: (typeof SCALARS)[number], access: "read" | "write"): boolean {
  const decided = rules[resource] as Access | undefined;
  if (decided === undefined || decided === "deny") return false;
  return access === "read" ? true : decided === "write";
}
