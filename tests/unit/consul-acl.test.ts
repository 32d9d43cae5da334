import { describe, expect, it } from "vitest";
import { ConsulConsumer, consumerPolicy, PolicyContext, renderAclRules, serverPolicy } from "../../components/discovery/consul-acl";
import { aclAllows, aclAllowsScalar, aclRulesProblems, Resource } from "./consul-model";

/**
 * Each token allows exactly what its holder does: the operations it performs are allowed, and
 * operations it has no business with are refused, evaluated with Consul's documented rule
 * semantics (consul-model.ts: exact beats prefix, longest prefix wins, write includes read,
 * default deny). The rules are read back from the rendered JSON, as Consul reads them.
 */

const context: PolicyContext = { serverNodes: ["consul-0", "consul-1", "consul-2"], infrastructureServices: ["postgres", "pgbouncer", "redis", "rabbitmq", "mongo", "minio"] };
type Op = [Resource, string, "read" | "write"];

function rulesOf(consumer: ConsulConsumer): Record<string, unknown> {
  return JSON.parse(renderAclRules(consumerPolicy(consumer, context).rules)) as Record<string, unknown>;
}

function decide(rules: Record<string, unknown>, ops: Op[]): string[] {
  return ops.map(([resource, name, access]) => `${resource}:${name}:${access}=${aclAllows(rules, resource, name, access) ? "allow" : "deny"}`);
}

describe("least-privilege Consul tokens", () => {
  it("every rendered policy is valid rule language", () => {
    const consumers: ConsulConsumer[] = [
      { kind: "service", name: "config", discovers: ["users"] },
      { kind: "traefik", name: "traefik" },
      { kind: "prometheus", name: "prometheus" },
    ];
    for (const consumer of consumers) expect(aclRulesProblems(rulesOf(consumer))).toEqual([]);
    for (const role of ["agent", "dns", "registration"] as const) expect(aclRulesProblems(JSON.parse(renderAclRules(serverPolicy(role, context).rules)))).toEqual([]);
    // The model can fail: an unknown resource and a bad access level.
    expect(aclRulesProblems({ services: { x: { policy: "read" } }, node: { a: { policy: "admin" } } })).toEqual(["services: unknown rule resource", "node.a.policy: must be one of read, write, deny (got \"admin\")"]);
  });

  it("a service registers and deregisters itself and reads the services it calls, nothing else", () => {
    const rules = rulesOf({ kind: "service", name: "config", discovers: ["users"] });
    expect(
      decide(rules, [
        ["service", "config", "write"], // PUT /v1/agent/service/register and deregister
        ["service", "users", "read"], // GET /v1/health/service/users
        ["node", "consul-1", "read"], // the health API filters instances by the node they are on
        ["service", "users", "write"], // must not register or deregister another service
        ["service", "postgres", "read"],
        ["service", "config-admin", "write"], // exact rule, not a prefix
        ["node", "consul-1", "write"],
        ["agent", "consul-0", "read"],
        ["key", "config/", "read"],
      ]),
    ).toEqual([
      "service:config:write=allow",
      "service:users:read=allow",
      "node:consul-1:read=allow",
      "service:users:write=deny",
      "service:postgres:read=deny",
      "service:config-admin:write=deny",
      "node:consul-1:write=deny",
      "agent:consul-0:read=deny",
      "key:config/:read=deny",
    ]);
    expect(aclAllowsScalar(rules, "acl", "read")).toBe(false);
    expect(aclAllowsScalar(rules, "operator", "read")).toBe(false);
  });

  it("the gateway reads every service and its healthy instances and writes nothing", () => {
    const rules = rulesOf({ kind: "traefik", name: "traefik" });
    expect(
      decide(rules, [
        ["service", "users", "read"],
        ["service", "consul", "read"],
        ["node", "consul-2", "read"],
        ["service", "users", "write"],
        ["node", "consul-2", "write"],
        ["node", "some-other-node", "read"],
        ["agent", "consul-0", "read"],
        ["key", "", "read"],
      ]),
    ).toEqual([
      "service:users:read=allow",
      "service:consul:read=allow",
      "node:consul-2:read=allow",
      "service:users:write=deny",
      "node:consul-2:write=deny",
      "node:some-other-node:read=deny",
      "agent:consul-0:read=deny",
      "key::read=deny",
    ]);
    expect(aclAllowsScalar(rules, "acl", "read")).toBe(false);
  });

  it("Prometheus reads each server's agent metrics and nothing else", () => {
    const rules = rulesOf({ kind: "prometheus", name: "prometheus" });
    expect(decide(rules, [["agent", "consul-0", "read"], ["agent", "consul-2", "read"], ["agent", "consul-0", "write"], ["service", "users", "read"], ["node", "consul-0", "read"]])).toEqual([
      "agent:consul-0:read=allow",
      "agent:consul-2:read=allow",
      "agent:consul-0:write=deny",
      "service:users:read=deny",
      "node:consul-0:read=deny",
    ]);
  });

  it("the servers' own tokens: agent writes its nodes, DNS reads everything, registration writes the infrastructure services only", () => {
    const agent = JSON.parse(renderAclRules(serverPolicy("agent", context).rules)) as Record<string, unknown>;
    expect(decide(agent, [["node", "consul-0", "write"], ["node", "worker", "write"], ["service", "users", "read"], ["service", "users", "write"]])).toEqual([
      "node:consul-0:write=allow",
      "node:worker:write=deny",
      "service:users:read=allow",
      "service:users:write=deny",
    ]);
    const dns = JSON.parse(renderAclRules(serverPolicy("dns", context).rules)) as Record<string, unknown>;
    expect(decide(dns, [["service", "anything", "read"], ["node", "consul-1", "read"], ["query", "q", "read"], ["service", "anything", "write"]])).toEqual([
      "service:anything:read=allow",
      "node:consul-1:read=allow",
      "query:q:read=allow",
      "service:anything:write=deny",
    ]);
    const registration = JSON.parse(renderAclRules(serverPolicy("registration", context).rules)) as Record<string, unknown>;
    expect(decide(registration, [["service", "postgres", "write"], ["service", "minio", "write"], ["service", "users", "write"], ["service", "postgres-evil", "write"]])).toEqual([
      "service:postgres:write=allow",
      "service:minio:write=allow",
      "service:users:write=deny",
      "service:postgres-evil:write=deny",
    ]);
  });

  it("the evaluator follows Consul's precedence: exact beats prefix, the longest prefix wins, deny refuses", () => {
    const rules = { service_prefix: { "": { policy: "read" }, "api-": { policy: "write" }, "api-internal": { policy: "deny" } }, service: { "api-internal-ok": { policy: "read" } } };
    expect(aclAllows(rules, "service", "web", "read")).toBe(true);
    expect(aclAllows(rules, "service", "web", "write")).toBe(false);
    expect(aclAllows(rules, "service", "api-x", "write")).toBe(true);
    expect(aclAllows(rules, "service", "api-internal-x", "read")).toBe(false);
    expect(aclAllows(rules, "service", "api-internal-ok", "read")).toBe(true);
  });
});
