import * as pulumi from "@pulumi/pulumi";
import type { MonitoringConfig, WebhookReceiverConfig } from "../config/stack-config";
import { WorkloadFile } from "../runtime/workload";
import { ALERTMANAGER_SECRETS_DIR, AlertReceivers, WebhookReceiver } from "./alertmanager-config";

type ReceiversConfig = MonitoringConfig["receivers"];

/** Receiver settings that only make sense together; one line per problem. */
export function receiverProblems(receivers: ReceiversConfig, prefix: string): string[] {
  const problems: string[] = [];
  for (const name of ["pager", "escalation", "deadMansSwitch"] as const) {
    if (receivers[name].key !== undefined && receivers[name].url === undefined) problems.push(`${prefix}.${name}.key: set without ${prefix}.${name}.url`);
  }
  const email = receivers.email;
  const emailParts = { to: email.to, from: email.from, smarthost: email.smarthost };
  const given = Object.entries(emailParts).filter(([, v]) => v !== undefined);
  if (given.length > 0 || email.username !== undefined || email.password !== undefined) {
    for (const [field, value] of Object.entries(emailParts)) {
      if (value === undefined) problems.push(`${prefix}.email.${field}: required once e-mail alerts are configured (to, from and smarthost go together)`);
    }
  }
  if (email.password !== undefined && email.username === undefined) problems.push(`${prefix}.email.password: set without ${prefix}.email.username`);
  return problems;
}

export interface ResolvedReceivers {
  /** What alertmanager.yml names: URLs and the paths of credential files. */
  receivers: AlertReceivers;
  /** The credential files, secret. */
  files: WorkloadFile[];
}

/** Config to receivers: every credential becomes a secret file Alertmanager reads (`*_file`). */
export function resolveReceivers(config: ReceiversConfig): ResolvedReceivers {
  const files: WorkloadFile[] = [];
  const secretFile = (name: string, value: string): string => {
    const path = `${ALERTMANAGER_SECRETS_DIR}/${name}`;
    files.push({ path, content: pulumi.secret(value), secret: true });
    return path;
  };
  const webhook = (name: string, c: WebhookReceiverConfig): WebhookReceiver | undefined =>
    c.url === undefined ? undefined : { url: c.url, ...(c.key !== undefined ? { keyFile: secretFile(`${name}-key`, c.key) } : {}) };
  const email = config.email;
  const receivers: AlertReceivers = {
    pager: webhook("pager", config.pager),
    slack: config.slack.webhookUrl !== undefined ? { apiUrlFile: secretFile("slack-webhook-url", config.slack.webhookUrl), channel: config.slack.channel } : undefined,
    email:
      email.to !== undefined && email.from !== undefined && email.smarthost !== undefined
        ? {
            to: email.to,
            from: email.from,
            smarthost: email.smarthost,
            requireTls: email.requireTls,
            username: email.username,
            passwordFile: email.password !== undefined ? secretFile("smtp-password", email.password) : undefined,
          }
        : undefined,
    escalation: webhook("escalation", config.escalation),
    deadMansSwitch: webhook("dead-mans-switch", config.deadMansSwitch),
  };
  for (const key of Object.keys(receivers) as (keyof AlertReceivers)[]) if (receivers[key] === undefined) delete receivers[key];
  return { receivers, files };
}
