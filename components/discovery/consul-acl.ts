/**
 * Consul ACL policies as code: one policy per consumer, each granting exactly the operations that
 * consumer performs, in Consul's JSON rule syntax (the same resources and keys as the HCL form:
 * developer.hashicorp.com/consul/docs/secure/acl/rule). With `default_policy = "deny"`, whatever
 * a policy does not name is refused.
 */

export type AclAccess = "read" | "write" | "deny";

/** The resources a rule can name; each has an exact form and a `_prefix` form. */
export const ACL_RESOURCES = ["agent", "event", "key", "node", "query", "service", "session"] as const;
export type AclResource = (typeof ACL_RESOURCES)[number];

export type AclRuleSet = Record<string, { policy: AclAccess }>;

/** Rules as Consul's JSON form holds them: `{"service": {"users": {"policy": "write"}}, "node_prefix": {"": {"policy": "read"}}}`. */
export type AclRules = Partial<Record<AclResource | `${AclResource}_prefix`, AclRuleSet>> & {
  acl?: AclAccess;
  operator?: AclAccess;
  keyring?: AclAccess;
  mesh?: AclAccess;
  peering?: AclAccess;
};

/** Who holds a token, and so what its policy must allow. */
export type ConsulConsumer =
  /** A service of the platform: registers and deregisters itself, discovers the services it calls. */
  | { kind: "service"; name: string; discovers: string[] }
  /** The gateway's consulCatalog provider: lists every service and its healthy instances. */
  | { kind: "traefik"; name: string }
  /** Scrapes /v1/agent/metrics of every server. */
  | { kind: "prometheus"; name: string };

/** The tokens the servers themselves hold (acl.tokens in the secret config). */
export type ServerTokenRole = "agent" | "dns" | "registration";

export interface PolicyContext {
  /** Node names of the servers: the nodes services register on and whose metrics are read. */
  serverNodes: string[];
  /** Infrastructure services the servers register from their configuration files. */
  infrastructureServices: string[];
}

export interface NamedPolicy {
  name: string;
  description: string;
  rules: AclRules;
}

const exact = (names: string[], policy: AclAccess): AclRuleSet => Object.fromEntries([...new Set(names)].sort().map((name) => [name, { policy }]));

/** The policy a consumer's token is linked to. */
export function consumerPolicy(consumer: ConsulConsumer, context: PolicyContext): NamedPolicy {
  switch (consumer.kind) {
    case "service": {
      const reads = consumer.discovers.filter((name) => name !== consumer.name);
      return {
        name: `service-${consumer.name}`,
        description: `${consumer.name}: registers itself, discovers ${reads.length > 0 ? reads.join(", ") : "nothing"}`,
        rules: {
          // Registration and deregistration through the agent API need service:write on its own name.
          service: { ...exact(reads, "read"), ...exact([consumer.name], "write") },
          // The health API returns only instances on nodes the token may read.
          ...(reads.length > 0 ? { node: exact(context.serverNodes, "read") } : {}),
        },
      };
    }
    case "traefik":
      return {
        name: consumer.name,
        description: "the gateway's consulCatalog provider: reads every service and its healthy instances",
        rules: { service_prefix: { "": { policy: "read" } }, node: exact(context.serverNodes, "read") },
      };
    case "prometheus":
      return {
        name: consumer.name,
        description: "Prometheus: reads /v1/agent/metrics of every server",
        rules: { agent: exact(context.serverNodes, "read") },
      };
  }
}

/** The policies of the servers' own tokens. */
export function serverPolicy(role: ServerTokenRole, context: PolicyContext): NamedPolicy {
  switch (role) {
    case "agent":
      // What Consul's node identity grants: write on the node itself, read on services for anti-entropy.
      return { name: "consul-agent", description: "the servers' agent token", rules: { node: exact(context.serverNodes, "write"), service_prefix: { "": { policy: "read" } } } };
    case "dns":
      // Consul's documented DNS token: DNS answers any node, service or prepared query name.
      return {
        name: "consul-dns",
        description: "answers DNS queries on 8600",
        rules: { node_prefix: { "": { policy: "read" } }, service_prefix: { "": { policy: "read" } }, query_prefix: { "": { policy: "read" } } },
      };
    case "registration":
      return {
        name: "consul-registration",
        description: "registers the infrastructure services of the servers' configuration files",
        rules: { service: exact(context.infrastructureServices, "write") },
      };
  }
}

/** The `Rules` string of a policy, as PUT /v1/acl/policy takes it. */
export function renderAclRules(rules: AclRules): string {
  return JSON.stringify(rules);
}
