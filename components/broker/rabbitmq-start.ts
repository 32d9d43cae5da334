/** Where the runtime mounts the cookie secret: a path the runtime owns, whatever mode it gives it. */
export const ERLANG_COOKIE_SECRET_PATH = "/etc/rabbitmq/erlang-cookie";
/** HOME of the rabbitmq user: the node and its CLI tools read the Erlang cookie from here. */
export const ERLANG_COOKIE_PATH = "/var/lib/rabbitmq/.erlang.cookie";

export interface StartScriptInput {
  cookieSecretPath: string;
  cookiePath: string;
  /** The image's entrypoint and its usual arguments. */
  exec: string[];
}

function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * The container's start command. Erlang refuses a cookie that group or others can read, and
 * Kubernetes adds group read to mounted secrets when the pod has an fsGroup, so the secret is
 * copied into HOME as the rabbitmq user with mode 0600 before the image's entrypoint runs.
 */
export function renderStartScript(input: StartScriptInput): string {
  return [
    "set -eu",
    `install -m 0600 ${shellQuote(input.cookieSecretPath)} ${shellQuote(input.cookiePath)}`,
    `exec ${input.exec.map(shellQuote).join(" ")}`,
  ].join("\n");
}

export function rabbitStartCommand(): string[] {
  return ["/bin/sh", "-c", renderStartScript({ cookieSecretPath: ERLANG_COOKIE_SECRET_PATH, cookiePath: ERLANG_COOKIE_PATH, exec: ["docker-entrypoint.sh", "rabbitmq-server"] })];
}
