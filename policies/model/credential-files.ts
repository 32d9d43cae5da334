import { hasPasswordInUrl } from "./credential-names";

/**
 * The credential files of everyday tools, recognised by what they hold rather than by a
 * `password:` line: a registry login (Docker's config.json), .netrc, .pgpass, .git-credentials and
 * .npmrc. Each keeps its secret in its own syntax, so the assignment test misses them.
 */
interface CredentialFileKind {
  what: string;
  test(text: string): boolean;
}

/** `${NPM_TOKEN}`, `$TOKEN`: the tool reads the value from the environment, nothing is stored. */
const VARIABLE = /^\$\{?[A-Za-z_]/;

function dockerConfigLogins(text: string): boolean {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text) as unknown;
  } catch {
    return false;
  }
  const auths = (parsed as { auths?: unknown } | null)?.auths;
  if (auths === null || typeof auths !== "object") return false;
  // An entry with only a credential helper's name (credHelpers) or an empty object stores nothing.
  return Object.values(auths as Record<string, unknown>).some((entry) => {
    const login = entry as Record<string, unknown> | null;
    return ["auth", "password", "identitytoken", "registrytoken"].some((field) => typeof login?.[field] === "string" && login[field] !== "");
  });
}

const KINDS: readonly CredentialFileKind[] = [
  { what: "a container registry login (Docker config.json auths)", test: dockerConfigLogins },
  // machine host login user password secret, on one line or spread over several.
  { what: "a .netrc login", test: (text) => /^\s*(machine\s+\S+|default)\b/m.test(text) && /(^|\s)password\s+(?!\$)\S+/m.test(text) },
  // hostname:port:database:username:password
  { what: "a .pgpass entry", test: (text) => text.split(/\r?\n/).some((line) => /^[^#:\s][^:]*:(\d+|\*):[^:]+:[^:]+:(?!\$)[^:\s]+$/.test(line.trim())) },
  { what: "a .git-credentials URL with its token", test: (text) => text.split(/\r?\n/).some((line) => /^https?:\/\//.test(line.trim()) && hasPasswordInUrl(line.trim())) },
  {
    what: "an .npmrc registry token",
    test: (text) =>
      text.split(/\r?\n/).some((line) => {
        const setting = /^\s*(\/\/[^=\s]*:)?_(authToken|auth|password)\s*=\s*(\S+)/.exec(line);
        return setting !== null && !VARIABLE.test(setting[3]!);
      }),
  },
];

/** Which everyday tool's credential file a text is, if it is one that holds its secret. */
export function credentialFileKind(text: string): string | undefined {
  return KINDS.find((kind) => kind.test(text))?.what;
}
