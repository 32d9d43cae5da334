import { isCredentialName } from "./credential-names";
import { isSwitchValue, isValueReference } from "./command-line-credentials";
import { isLiteralValue } from "./property-values";

/**
 * Credentials written into configuration text (a ConfigMap's file, EC2 user data, an env value),
 * each named by where it sits so that a finding never repeats the value:
 * - a credential-named key given a literal anywhere on a line: YAML, INI, TOML, .env, minified
 *   JSON (`{"db":{"password":"x"}}`), query strings (`?user=a&password=x`), connection strings
 *   (`Server=db;Password=x;`, ODBC's `PWD=x`), flags inside a value (`-Dspring.datasource.password=x`);
 * - Redis's `requirepass x` / `masterauth x` and an ACL line's `>password`;
 * - an XML element (`<password>x</password>`);
 * - a URL's userinfo (`amqp://app:x@rabbitmq`);
 * - an HTTP Authorization header with its literal credential (`Authorization: Basic …`).
 * A reference to the value (`${DB_PASSWORD}`, `$(cat /run/secrets/db)`, a path, a template's
 * `{{ … }}`), a switch (`true`) and an empty value are not credentials.
 */
export function credentialAssignments(text: string): string[] {
  const found = new Set<string>();
  for (const line of text.split(/\r?\n/)) {
    for (const key of lineAssignments(line)) found.add(key);
    for (const url of urlPasswords(line)) found.add(url);
    const authorization = AUTHORIZATION.exec(line);
    if (authorization && literal(authorization[2])) found.add("an Authorization header");
  }
  return [...found];
}

/** A value that stands for itself, not for where the credential is kept. */
function literal(value: string | undefined): value is string {
  if (!isLiteralValue(value)) return false;
  const trimmed = value.trim();
  return trimmed !== "" && !isValueReference(trimmed) && !isSwitchValue(trimmed) && !TEMPLATE.test(trimmed) && !/^(null|nil|none|~)$/i.test(trimmed);
}

/** Template placeholders that another program fills in before the text is read: `{{ .Values.x }}`, `%(password)s`, `<password>`. */
const TEMPLATE = /^(\{\{|\{%|%\(|<[A-Za-z_-]+>$)/;

/** `export KEY=value`, `key: value`, `"key": "value"` at the start of a line; the value may hold spaces. */
const LINE_START = /^\s*(?:export\s+)?["']?([A-Za-z0-9_.-]+)["']?\s*[:=]\s*["']?([^"'\s#][^"'#]*)/;
/**
 * The same anywhere after a delimiter: JSON on one line, a query or connection string, a flag
 * inside a value. The value ends at the next delimiter unless it is quoted.
 */
const INLINE = /(?<=^|[\s{,;&?(\[])["']?(-{0,2}[A-Za-z_][A-Za-z0-9_.-]*)["']?\s*[:=]\s*(?:"([^"]*)"|'([^']*)'|(\[[^\]\s]*\]|[^\s"',;&{}\])<][^\s"',;&}\])<]*))/g;
/** ODBC names the password `PWD` (a shell's PWD is the working directory: only in a `;` list). */
const ODBC_PASSWORD = /(?:^|;)\s*(pwd)\s*=\s*([^;]+)/i;
const SPACED = /^\s*(requirepass|masterauth)\s+(\S+)/i;
const ACL_PASSWORD = /^\s*user\s+\S+.*\s>\S+/;
const XML_ELEMENT = /<([A-Za-z_][A-Za-z0-9_.-]*)>([^<]+)<\/\1>/g;
const AUTHORIZATION = /\bauthorization["']?\s*[:=]?\s*["']?(basic|bearer|token|digest)\s+([^\s"']{8,})/i;

function lineAssignments(line: string): string[] {
  const keys: string[] = [];
  const atStart = LINE_START.exec(line);
  if (atStart && isCredentialName(lastSegment(atStart[1]!)) && literal(atStart[2])) keys.push(atStart[1]!);
  for (const match of line.matchAll(INLINE)) {
    const key = match[1]!;
    if (isCredentialName(lastSegment(key)) && literal(match[2] ?? match[3] ?? match[4])) keys.push(key);
  }
  const odbc = ODBC_PASSWORD.exec(line);
  if (odbc && line.includes(";") && literal(odbc[2])) keys.push(odbc[1]!);
  const spaced = SPACED.exec(line);
  if (spaced && literal(spaced[2])) keys.push(spaced[1]!);
  if (ACL_PASSWORD.test(line)) keys.push("user (ACL password)");
  for (const match of line.matchAll(XML_ELEMENT)) {
    if (isCredentialName(match[1]!) && literal(match[2])) keys.push(`<${match[1]}>`);
  }
  return keys;
}

/** `spring.datasource.password` is judged by `password`; `-Dx.password` by `password`. */
const lastSegment = (key: string): string => key.replace(/^-+/, "").split(".").pop() ?? key;

/** scheme://user:password@host anywhere in a line; the user part may be empty (redis://:x@redis). */
const URL_WITH_PASSWORD = /\b([a-z][a-z0-9+.-]*):\/\/[^/\s:@"'<>]*:([^@\s/"'<>]+)@([^\s/?#"'<>]+)/gi;

function urlPasswords(line: string): string[] {
  const found: string[] = [];
  for (const match of line.matchAll(URL_WITH_PASSWORD)) {
    if (literal(match[2])) found.push(`the password of ${match[1]}://…@${match[3]}`);
  }
  return found;
}
