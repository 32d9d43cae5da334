import { NamedPolicy, renderAclRules } from "./consul-acl";

/**
 * The one-shot job that puts the policies and tokens into Consul once a leader exists, through
 * the HTTP API with the bootstrap token (PUT /v1/acl/policy, PUT /v1/acl/token with SecretIDs
 * the stack generated). It runs in the Consul image, whose Alpine base ships sh, curl and jq
 * (hashicorp/consul Dockerfile). Every step is an upsert, so a re-run after a change (a new
 * consumer, a changed rule) updates what exists and creates what does not.
 *
 * No secret is on a command line or in the environment: the bootstrap token reaches curl as a
 * header file (`-H @file`), each token's body (with its SecretID) as a secret file.
 */

export const ACL_JOB_DIR = "/consul/acl";
export const ACL_JOB_HEADER_PATH = `${ACL_JOB_DIR}/management-header`;

export interface AclJobToken {
  /** Also the token's Description. */
  name: string;
  accessorId: string;
  policy: string;
}

export interface AclJobInput {
  /** https://consul:8501 */
  apiUrl: string;
  caPath: string;
  certPath: string;
  keyPath: string;
  policies: NamedPolicy[];
  tokens: AclJobToken[];
  /** How long to wait for a leader before failing (the runtime retries the job). */
  leaderTimeoutSeconds: number;
}

const SAFE_NAME = /^[a-z0-9][a-z0-9-]*$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function policyBodyPath(name: string): string {
  return `${ACL_JOB_DIR}/policy-${name}.json`;
}

export function tokenBodyPath(name: string): string {
  return `${ACL_JOB_DIR}/token-${name}.json`;
}

/** PUT /v1/acl/policy's body. */
export function renderPolicyBody(policy: NamedPolicy): string {
  return `${JSON.stringify({ Name: policy.name, Description: policy.description, Rules: renderAclRules(policy.rules) })}\n`;
}

/** PUT /v1/acl/token's body: secret, it carries the SecretID. */
export function renderTokenBody(token: AclJobToken, secretId: string): string {
  if (!UUID.test(secretId)) throw new Error(`consul token ${token.name}: SecretID must be a UUID`);
  return `${JSON.stringify({ AccessorID: token.accessorId, SecretID: secretId, Description: token.name, Policies: [{ Name: token.policy }], Local: false })}\n`;
}

/** The header file curl sends with every call. */
export function renderManagementHeader(bootstrapToken: string): string {
  if (!UUID.test(bootstrapToken)) throw new Error("consul bootstrap token: must be a UUID");
  return `X-Consul-Token: ${bootstrapToken}\n`;
}

export function renderAclJobScript(input: AclJobInput): string {
  const problems: string[] = [];
  const policyNames = new Set(input.policies.map((p) => p.name));
  for (const policy of input.policies) if (!SAFE_NAME.test(policy.name)) problems.push(`policy ${JSON.stringify(policy.name)}: name must be lower-case letters, digits and "-"`);
  for (const token of input.tokens) {
    if (!SAFE_NAME.test(token.name)) problems.push(`token ${JSON.stringify(token.name)}: name must be lower-case letters, digits and "-"`);
    if (!UUID.test(token.accessorId)) problems.push(`token ${token.name}: accessorId must be a UUID`);
    if (!policyNames.has(token.policy)) problems.push(`token ${token.name}: policy ${token.policy} is not among the policies`);
  }
  if (problems.length > 0) throw new Error(`consul ACL job:\n${problems.join("\n")}`);
  const lines = [
    "#!/bin/sh",
    "set -eu",
    `api="${input.apiUrl}"`,
    // --fail-with-body: a refused call fails the job and shows Consul's reason.
    `call() { curl -sS --fail-with-body --cacert ${input.caPath} --cert ${input.certPath} --key ${input.keyPath} -H @${ACL_JOB_HEADER_PATH} "$@"; }`,
    // 404 is an answer (absent); anything else that is not 2xx stops the job.
    `status() { curl -sS -o /tmp/answer -w '%{http_code}' --cacert ${input.caPath} --cert ${input.certPath} --key ${input.keyPath} -H @${ACL_JOB_HEADER_PATH} "$1"; }`,
    `deadline=$(( $(date +%s) + ${input.leaderTimeoutSeconds} ))`,
    // /v1/status/leader answers "" until the servers elected one.
    `until leader=$(call "$api/v1/status/leader" 2>/dev/null) && [ "$leader" != '""' ]; do`,
    `  [ "$(date +%s)" -lt "$deadline" ] || { echo "no Consul leader after ${input.leaderTimeoutSeconds}s" >&2; exit 1; }`,
    "  sleep 2",
    "done",
    'echo "leader: $leader"',
  ];
  for (const policy of input.policies) {
    lines.push(
      `code=$(status "$api/v1/acl/policy/name/${policy.name}")`,
      `case "$code" in`,
      `  200) id=$(jq -r .ID /tmp/answer); call -X PUT --data @${policyBodyPath(policy.name)} "$api/v1/acl/policy/$id" >/dev/null; echo "policy ${policy.name}: updated" ;;`,
      `  404|403) call -X PUT --data @${policyBodyPath(policy.name)} "$api/v1/acl/policy" >/dev/null; echo "policy ${policy.name}: created" ;;`,
      `  *) echo "policy ${policy.name}: HTTP $code $(cat /tmp/answer)" >&2; exit 1 ;;`,
      "esac",
    );
  }
  for (const token of input.tokens) {
    lines.push(
      `code=$(status "$api/v1/acl/token/${token.accessorId}")`,
      `case "$code" in`,
      // The SecretID is fixed at creation; an update sends the rest.
      `  200) jq 'del(.SecretID)' ${tokenBodyPath(token.name)} | call -X PUT --data @- "$api/v1/acl/token/${token.accessorId}" >/dev/null; echo "token ${token.name}: updated" ;;`,
      `  404|403) call -X PUT --data @${tokenBodyPath(token.name)} "$api/v1/acl/token" >/dev/null; echo "token ${token.name}: created" ;;`,
      `  *) echo "token ${token.name}: HTTP $code $(cat /tmp/answer)" >&2; exit 1 ;;`,
      "esac",
    );
  }
  lines.push("rm -f /tmp/answer", 'echo "consul ACLs in place"');
  return `${lines.join("\n")}\n`;
}
