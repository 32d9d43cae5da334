/**
 * Variables the official images read a credential from. Each has a `_FILE` (or `__FILE`)
 * twin that reads it from a mounted file instead, which is the only accepted form.
 */
export const KNOWN_SECRET_VARIABLES: ReadonlySet<string> = new Set([
  "POSTGRES_PASSWORD",
  "PGPASSWORD",
  "MONGO_INITDB_ROOT_PASSWORD",
  "RABBITMQ_DEFAULT_PASS",
  "RABBITMQ_ERLANG_COOKIE",
  "MINIO_ROOT_PASSWORD",
  "MINIO_SECRET_KEY",
  "GF_SECURITY_ADMIN_PASSWORD",
  "GF_DATABASE_PASSWORD",
  "REDIS_PASSWORD",
  "CONSUL_HTTP_TOKEN",
  "AWS_SECRET_ACCESS_KEY",
  // The cloud SDKs' own variables whose names the word list below does not catch.
  "OCI_CLI_KEY_CONTENT",
  "AZURE_CLIENT_CERTIFICATE_PASSWORD",
  "AZURE_PASSWORD",
]);

/**
 * Words that name a credential. TOKEN and COOKIE only as what the name ends in or a word of its
 * own: `MAX_TOKENS`, `tokenizer` and `SESSION_COOKIE_SECURE` are settings an ML or web config is
 * full of, `GITHUBTOKEN` and `ERLANG_COOKIE` are credentials.
 */
const CREDENTIAL_WORDS = /(PASSWORD|PASSWD|PASSPHRASE|_PASS$|^PASS$|SECRET|TOKEN(?![A-Z])|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|CREDENTIALS?|AUTH_?KEY|COOKIE$)/;
const FILE_REFERENCE = /(_FILE|__FILE|_PATH|_FILENAME|_DIR)$/;
// Settings about a credential rather than the credential itself (JWT_SECRET_TTL, PASSWORD_ENCRYPTION,
// PASSWORD_HASH_ROUNDS, ID_TOKEN_SIGNING_ALG), names of where one is kept (SECRET_NAME, secretKeyRef,
// SECRET_ARN, TOKEN_STORE) and a key's public identifier (AWS_ACCESS_KEY_ID; its AKIA format is
// no-known-token-in-plain-value's). Vault's SECRET_ID is a credential and stays one.
const CREDENTIAL_SETTING =
  /(_TTL|_SECONDS|_EXPIRY|_EXPIRES_IN|_EXPIRATION|_LENGTH|_HEADER|_ALGORITHM|_ENCRYPTION|_ISSUER|_AUDIENCE|_ENDPOINT|_URL|_URI|_HOST|_PORT|_USER|_USERNAME|_ENABLED|_ENABLE|_DISABLED|_REQUIRED|_POLICY|_ROTATION|_PROVIDER|_MODE|_METHOD|_TYPE|_NAME|_NAMES|_REF|_ARN|_LIMIT|_COUNT|_SIZE|_ROUNDS|_COST|_ITERATIONS|_TIMEOUT|_INTERVAL|_AGE|_PREFIX|_VERSION|_FORMAT|_STRENGTH|_COMPLEXITY|_ALG|_STORE|_BACKEND|_SCOPE|_SCOPES|_KIND|_LOCATION|_KEY_ID)$/;
/** Qualifiers that make the name a bound or a pointer: MAX_TOKEN_AGE, MIN_PASSWORD, existingSecret (a Helm chart's "use this Secret"). */
const SETTING_QUALIFIER = /^(MAX|MIN|NUM|EXISTING)_/;

/** `clientSecret` -> `CLIENT_SECRET`; dots and dashes become underscores. */
const normalized = (name: string): string => name.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase().replace(/[.-]/g, "_");

/** A name that, holding a literal value, would hold a credential in plain text. */
export function isCredentialName(name: string): boolean {
  const upper = normalized(name);
  if (FILE_REFERENCE.test(upper)) return false;
  // Also as written: splitting at case changes breaks a known name spelt in mixed case (MinIO_ROOT_PASSWORD).
  if (KNOWN_SECRET_VARIABLES.has(upper) || KNOWN_SECRET_VARIABLES.has(name.toUpperCase().replace(/[.-]/g, "_"))) return true;
  if (CREDENTIAL_SETTING.test(upper) || SETTING_QUALIFIER.test(upper)) return false;
  return CREDENTIAL_WORDS.test(upper);
}

/** scheme://user:password@host, the password part captured. The user part may be empty (redis://:password@host). */
const URL_USERINFO_PASSWORD = /^[a-z][a-z0-9+.-]*:\/\/[^/\s:@]*:([^@\s/]+)@/i;

/** Connection strings carry a password in their userinfo part: scheme://user:password@host. */
export function hasPasswordInUrl(value: string): boolean {
  return URL_USERINFO_PASSWORD.test(value);
}

/** A URL's password and where the host begins, if its userinfo holds one. */
export function urlPassword(value: string): { password: string; hostAt: number } | undefined {
  const match = URL_USERINFO_PASSWORD.exec(value);
  return match ? { password: match[1]!, hostAt: match[0].length } : undefined;
}

/**
 * A PEM (or SSH2) private-key boundary, written loosely as people and tools do: three to five
 * dashes (SSH2 uses four and a space), any spacing, any algorithm words before PRIVATE KEY
 * (RSA, EC, DSA, OPENSSH, ENCRYPTED, SSH2 ENCRYPTED, PGP ... BLOCK) and none for PKCS#8.
 * Public keys and certificates say PUBLIC KEY or CERTIFICATE and do not match.
 */
const PRIVATE_KEY_BOUNDARY = /-{3,}\s*(BEGIN|END)\s+([A-Z0-9]+\s+)*PRIVATE\s+KEY(\s+BLOCK)?\s*-{3,}/i;
/** PuTTY's .ppk format: a header line, then the key (encrypted or not) in the same file. */
const PUTTY_KEY_FILE = /PuTTY-User-Key-File-\d+\s*:/;

/** Base64 text filling a whole value, wrapped at any width (`base64` wraps at 76 columns). */
export const BASE64_WHOLE = /^\s*[A-Za-z0-9+/_-][A-Za-z0-9+/_\s-]*={0,2}\s*$/;
/**
 * A run of base64 inside a longer text (`private_key: <base64>`, `KEY_B64=<base64>`): at least
 * the 36 characters that encode "-----BEGIN PRIVATE KEY-----". Standard and URL-safe alphabets.
 */
const BASE64_RUN = /[A-Za-z0-9+/_-]{36,}={0,2}/g;

export type PrivateKeyFormat = "PEM" | "PuTTY" | "base64-encoded PEM" | "base64-encoded PuTTY";

function plainKeyFormat(value: string): "PEM" | "PuTTY" | undefined {
  if (PRIVATE_KEY_BOUNDARY.test(value)) return "PEM";
  if (PUTTY_KEY_FILE.test(value)) return "PuTTY";
  return undefined;
}

function decodedKeyFormat(encoded: string): "PEM" | "PuTTY" | undefined {
  return plainKeyFormat(Buffer.from(encoded.replace(/\s+/g, ""), "base64").toString("latin1"));
}

/**
 * Which private-key format a value carries, if any: in plain text, or base64-wrapped once, the
 * form a ConfigMap's binaryData, a `*_B64` variable or a config file's inline key gives it.
 */
export function privateKeyFormat(value: string): PrivateKeyFormat | undefined {
  const plain = plainKeyFormat(value);
  if (plain) return plain;
  const candidates = BASE64_WHOLE.test(value) ? [value] : (value.match(BASE64_RUN) ?? []);
  for (const candidate of candidates) {
    const decoded = decodedKeyFormat(candidate);
    if (decoded) return `base64-encoded ${decoded}`;
  }
  return undefined;
}

export function containsPrivateKey(value: string): boolean {
  return privateKeyFormat(value) !== undefined;
}
