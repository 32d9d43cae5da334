import { stringify } from "yaml";
import { Severity } from "./alert-rules";

/** Where a receiver's credential file lives inside the Alertmanager container. */
export const ALERTMANAGER_SECRETS_DIR = "/etc/alertmanager/secrets";

export interface WebhookReceiver {
  url: string;
  /** File holding a bearer key the endpoint requires (a pager's integration key). */
  keyFile?: string;
}

export interface AlertReceivers {
  /** Critical alerts: a paging service's webhook. */
  pager?: WebhookReceiver;
  /** Critical and warning alerts: a Slack incoming webhook (its URL is the credential). */
  slack?: { apiUrlFile: string; channel: string };
  /** Warning alerts. */
  email?: { to: string; from: string; smarthost: string; username?: string; passwordFile?: string; requireTls: boolean };
  /** Critical alerts still firing after the escalation delay re-notify here. */
  escalation?: WebhookReceiver;
  /** Receives Watchdog continuously and raises an alarm when it stops. */
  deadMansSwitch?: WebhookReceiver;
}

export interface AlertmanagerConfigInput {
  receivers: AlertReceivers;
}

/** Receiver names; "ui" has no integration: its alerts are seen only in the Alertmanager UI. */
export const RECEIVER = {
  critical: "critical",
  warning: "warning",
  escalation: "escalation",
  deadMansSwitch: "dead-mans-switch",
  ui: "ui",
} as const;

/** Labels two alerts must share to be about the same target. */
export const SAME_TARGET = ["environment", "job", "instance"];

/** How often an unresolved alert is sent again, per severity. */
export const REPEAT_INTERVAL: Record<Exclude<Severity, "info">, string> = { critical: "1h", warning: "4h" };
/** Watchdog is re-sent this often, so its absence is noticed within minutes. */
export const WATCHDOG_REPEAT = "1m";
/**
 * The Watchdog route's repeat_interval, just under WATCHDOG_REPEAT (its group_interval). At each
 * group flush Alertmanager re-sends only if more than repeat_interval has passed since the last
 * send, which it logged a moment after the previous flush: with the two equal, every other flush
 * is skipped and Watchdog arrives every 2 minutes (measured in tests/e2e/monitoring-alerts.test.ts).
 */
export const WATCHDOG_REPEAT_BELOW_FLUSH = "50s";

function webhook(receiver: WebhookReceiver): Record<string, unknown> {
  return {
    url: receiver.url,
    send_resolved: true,
    ...(receiver.keyFile ? { http_config: { authorization: { type: "Bearer", credentials_file: receiver.keyFile } } } : {}),
  };
}

function receiver(name: string, configs: { webhook?: WebhookReceiver[]; slack?: AlertReceivers["slack"]; email?: AlertReceivers["email"] }): Record<string, unknown> {
  const webhooks = (configs.webhook ?? []).map(webhook);
  return {
    name,
    ...(webhooks.length > 0 ? { webhook_configs: webhooks } : {}),
    ...(configs.slack
      ? { slack_configs: [{ api_url_file: configs.slack.apiUrlFile, channel: configs.slack.channel, send_resolved: true, title: "{{ .CommonAnnotations.summary }}", text: "{{ .CommonAnnotations.description }}" }] }
      : {}),
    ...(configs.email
      ? {
          email_configs: [
            {
              to: configs.email.to,
              from: configs.email.from,
              smarthost: configs.email.smarthost,
              require_tls: configs.email.requireTls,
              send_resolved: true,
              ...(configs.email.username ? { auth_username: configs.email.username } : {}),
              ...(configs.email.passwordFile ? { auth_password_file: configs.email.passwordFile } : {}),
            },
          ],
        }
      : {}),
  };
}

/** Which receivers get something besides the UI; empty means alerts are only seen in the UI. */
export function configuredReceivers(receivers: AlertReceivers): string[] {
  return (Object.keys(receivers) as (keyof AlertReceivers)[]).filter((key) => receivers[key] !== undefined);
}

/**
 * alertmanager.yml: Watchdog to the dead-man's switch, critical to pager and Slack, warning to
 * Slack and e-mail, info to the UI only; escalated criticals (see the CriticalUnresolved rule)
 * to the escalation receiver. A critical alert mutes the warnings of its target, and a target
 * that is down mutes its other alerts.
 */
export function renderAlertmanagerConfig(input: AlertmanagerConfigInput): string {
  const r = input.receivers;
  const config = {
    route: {
      receiver: RECEIVER.ui,
      group_by: ["alertname", ...SAME_TARGET],
      group_wait: "30s",
      group_interval: "5m",
      repeat_interval: "12h",
      routes: [
        { receiver: RECEIVER.deadMansSwitch, matchers: ['alertname="Watchdog"'], group_wait: "0s", group_interval: WATCHDOG_REPEAT, repeat_interval: WATCHDOG_REPEAT_BELOW_FLUSH },
        { receiver: RECEIVER.escalation, matchers: ['escalate="true"'], group_wait: "0s", repeat_interval: REPEAT_INTERVAL.critical },
        { receiver: RECEIVER.critical, matchers: ['severity="critical"'], group_wait: "10s", group_interval: "1m", repeat_interval: REPEAT_INTERVAL.critical },
        { receiver: RECEIVER.warning, matchers: ['severity="warning"'], group_wait: "30s", repeat_interval: REPEAT_INTERVAL.warning },
        { receiver: RECEIVER.ui, matchers: ['severity="info"'] },
      ],
    },
    inhibit_rules: [
      { source_matchers: ['severity="critical"'], target_matchers: ['severity="warning"'], equal: SAME_TARGET },
      // Not the escalation of the TargetDown itself (CriticalUnresolved carries the target's labels).
      { source_matchers: ['alertname="TargetDown"'], target_matchers: ['alertname!="TargetDown"', 'alertname!="Watchdog"', 'escalate!="true"'], equal: SAME_TARGET },
    ],
    receivers: [
      receiver(RECEIVER.deadMansSwitch, { webhook: r.deadMansSwitch ? [r.deadMansSwitch] : [] }),
      receiver(RECEIVER.escalation, { webhook: r.escalation ? [r.escalation] : [] }),
      receiver(RECEIVER.critical, { webhook: r.pager ? [r.pager] : [], slack: r.slack }),
      receiver(RECEIVER.warning, { slack: r.slack, email: r.email }),
      receiver(RECEIVER.ui, {}),
    ],
  };
  return `# Rendered by fundament (components/monitoring/alertmanager-config.ts).\n${stringify(config, { lineWidth: 0 })}`;
}
