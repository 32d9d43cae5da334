import { isCredentialName, urlPassword } from "./credential-names";

/**
 * A flag whose value is a credential: the bare words (`--password`, `--requirepass`) and any
 * flag that ends in one (`--db-password`, `--redis-pass`, `--client-secret`, `--auth-token`).
 * `--password-file`, `--token-path` and `--password-stdin` end in something else and pass, and
 * `--no-password` (psql's switch) says there is none.
 */
const CREDENTIAL_FLAG = /^--?(?!no-)([a-z0-9]+[-_.])*(requirepass|masterauth|pass|password|passwd|passphrase|token|secret|api[-_]?key|access[-_]?key|secret[-_]?key|private[-_]?key)$/i;

/** `NAME=value`, as a shell or `env` takes a variable for one command. */
const ASSIGNMENT = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s;

/** `a.b-c.key=value`, a setting as `helm --set`, `kubectl --from-literal` or `-c key=value` take it. */
const SETTING_ASSIGNMENT = /^([A-Za-z_][A-Za-z0-9_.-]*)=(.*)$/s;

const SHELLS = new Set(["sh", "bash", "ash", "dash", "zsh", "ksh"]);

/** A value that names a secret rather than holding one: a variable, a command substitution, a path. */
export function isValueReference(value: string): boolean {
  return /^\$[({]?[A-Za-z_]/.test(value) || value.startsWith("$(") || value.startsWith("`") || value.startsWith("/") || value.startsWith("file:");
}

/** A switch, not a credential: PASSWORD_RESET=false says nothing secret. */
export function isSwitchValue(value: string): boolean {
  return /^(true|false|yes|no|on|off|enabled|disabled)$/i.test(value.trim());
}

/** Ends a simple command in a script: `;`, `&`, `|` (and so `&&`, `||`) and newlines. */
const COMMAND_END = "\u0000";

/** A script's words with COMMAND_END between its simple commands. */
function scriptTokens(script: string): string[] {
  const words: string[] = [];
  let word = "";
  let quote: "'" | '"' | undefined;
  let inWord = false;
  const end = (): void => {
    if (inWord) words.push(word);
    word = "";
    inWord = false;
  };
  for (const char of script) {
    if (quote !== undefined) {
      if (char === quote) quote = undefined;
      else word += char;
      continue;
    }
    if (char === "'" || char === '"') {
      quote = char;
      inWord = true;
    } else if (/[;&|\n]/.test(char)) {
      end();
      if (words[words.length - 1] !== COMMAND_END) words.push(COMMAND_END);
    } else if (/[\s()]/.test(char) && !(char === "(" && word.endsWith("$"))) {
      end();
    } else {
      word += char;
      inWord = true;
    }
  }
  end();
  return words;
}

/**
 * A shell script's words, quotes removed: enough to find `--password x`, `PGPASSWORD=x psql` and
 * URLs in it, not a shell. Separators (; && || | newlines) end words as whitespace does.
 */
export function shellWords(script: string): string[] {
  return scriptTokens(script).filter((word) => word !== COMMAND_END);
}

/** A script's simple commands, each as its words (`a x; b y | c` is [a, x], [b, y], [c]). */
export function shellCommands(script: string): string[][] {
  const commands: string[][] = [[]];
  for (const word of scriptTokens(script)) {
    if (word === COMMAND_END) commands.push([]);
    else commands[commands.length - 1]!.push(word);
  }
  return commands.filter((command) => command.length > 0);
}

/**
 * The argument vectors a command line runs: its own words, and each shell script among them
 * (after `sh -c`, or any argument with spaces: `bash -ec "..."`, an entrypoint's one string) as
 * the words the shell will see. A script is read only as words, so its quotes do not count.
 */
function commandWords(argv: readonly string[]): string[][] {
  const own: string[] = [];
  const scripts: string[][] = [];
  argv.forEach((argument, index) => {
    const afterShellC = argv[index - 1] === "-c" && SHELLS.has((argv[index - 2] ?? "").split("/").pop() ?? "");
    if (afterShellC || /\s/.test(argument.trim())) scripts.push(...shellCommands(argument));
    else own.push(argument);
  });
  return [own, ...scripts];
}

/** Words that run the next word as the program: `env A=b prog`, `exec prog`, `sudo -u x prog`. */
const WRAPPERS = new Set(["env", "exec", "sudo", "nohup", "command", "time", "nice", "gosu", "su-exec", "tini", "dumb-init"]);

/** The index of a simple command's program: past leading NAME=value words and wrappers (and a wrapper's flags). */
function programIndex(words: readonly string[]): number {
  let index = 0;
  while (index < words.length) {
    const word = words[index]!;
    const name = word.split("/").pop() ?? "";
    if (ASSIGNMENT.test(word) || word.startsWith("-") || word === "--") index += 1;
    else if (WRAPPERS.has(name)) index += 1;
    // gosu and su-exec take the user first: `gosu postgres prog`.
    else if (index > 0 && ["gosu", "su-exec"].includes(words[index - 1]!.split("/").pop() ?? "")) index += 1;
    else return index;
  }
  return index;
}

const MYSQL_CLIENTS = new Set(["mysql", "mysqldump", "mysqladmin", "mysqlimport", "mysqlcheck", "mariadb", "mariadb-dump", "mariadb-admin"]);
const MONGO_CLIENTS = new Set(["mongosh", "mongo", "mongodump", "mongorestore", "mongoexport", "mongoimport", "mongostat", "mongotop"]);
const REGISTRY_CLIENTS = new Set(["docker", "podman", "nerdctl", "buildah", "skopeo", "helm", "oras", "crane", "regctl"]);
/** HTTP headers that carry a credential in their value. */
const CREDENTIAL_HEADER = /^\s*(authorization|proxy-authorization|x-api-key|api-key|apikey|x-auth-token|private-token|x-vault-token|x-consul-token|cookie)\s*:\s*(.+)$/i;

/**
 * Where a program's own short flags or positional arguments take a credential, as each tool's
 * manual gives them: `redis-cli -a`, `mysql -p<password>`, `mongosh -p`, `sshpass -p`, `curl -u
 * user:password` and credential headers, `docker login -p`, `rabbitmqctl add_user <user>
 * <password>`, `mc alias set <alias> <url> <access key> <secret key>`, `openssl -passin pass:`.
 */
function programCredentials(program: string, args: readonly string[]): string[] {
  const found: string[] = [];
  const next = (flag: string): string | undefined => {
    const index = args.indexOf(flag);
    return index < 0 ? undefined : args[index + 1];
  };
  const attached = (flag: string): string | undefined => args.find((arg) => arg.startsWith(flag) && arg.length > flag.length && !arg.startsWith(`${flag}-`))?.slice(flag.length);
  const usable = (value: string | undefined): value is string => literal(value) && !value.startsWith("-");
  if (program === "redis-cli" && usable(next("-a"))) found.push("redis-cli -a");
  if (MYSQL_CLIENTS.has(program) && literal(attached("-p"))) found.push(`${program} -p<password>`);
  if ((MONGO_CLIENTS.has(program) || program === "sshpass") && (usable(next("-p")) || literal(attached("-p")))) found.push(`${program} -p`);
  if (REGISTRY_CLIENTS.has(program) && args.includes("login") && usable(next("-p"))) found.push(`${program} login -p`);
  if (program === "curl") {
    for (const flag of ["-u", "--user", "-U", "--proxy-user"]) {
      const userinfo = next(flag);
      if (usable(userinfo) && /^[^:]*:.+/.test(userinfo) && !isValueReference(userinfo.slice(userinfo.indexOf(":") + 1))) found.push(`curl ${flag} user:password`);
    }
    if (usable(next("--oauth2-bearer"))) found.push("curl --oauth2-bearer");
  }
  if (program === "curl" || program === "wget" || program === "http" || program === "grpcurl") {
    args.forEach((arg, index) => {
      const header = ["-H", "--header"].includes(args[index - 1] ?? "") ? arg : arg.startsWith("--header=") ? arg.slice("--header=".length) : undefined;
      const match = header === undefined ? null : CREDENTIAL_HEADER.exec(header);
      const value = match?.[2]?.trim().replace(/^(bearer|basic|token)\s+/i, "");
      if (match && literal(value)) found.push(`${program}'s ${match[1]} header`);
    });
  }
  if (program === "rabbitmqctl") {
    for (const command of ["add_user", "change_password"]) {
      const index = args.indexOf(command);
      // Without the password argument rabbitmqctl reads it from standard input.
      if (index >= 0 && usable(args.slice(index + 1).filter((arg) => !arg.startsWith("-"))[1])) found.push(`rabbitmqctl ${command}'s password`);
    }
  }
  if (program === "mc") {
    const positional = args.filter((arg) => !arg.startsWith("-"));
    const at = positional[0] === "alias" && positional[1] === "set" ? 2 : positional[0] === "config" && positional[1] === "host" && positional[2] === "add" ? 3 : -1;
    if (at >= 0 && usable(positional[at + 3])) found.push(`mc ${positional.slice(0, at).join(" ")}'s secret key`);
  }
  if (program === "openssl") {
    args.forEach((arg, index) => {
      // -pass and -password end in a credential word: the generic flag check reports them already.
      if (["-passin", "-passout"].includes(args[index - 1] ?? "") && arg.startsWith("pass:") && arg.length > 5) found.push(`openssl ${args[index - 1]} pass:`);
    });
  }
  return found;
}

function literal(value: string | undefined): value is string {
  return value !== undefined && value !== "" && !isValueReference(value);
}

/**
 * Where a command line hands its process a literal credential, each as the finding names it:
 * `--db-password`, `PGPASSWORD=`, `the password of postgres://…@db:5432`. Never the value.
 */
export function commandLineCredentials(argv: readonly string[]): string[] {
  const found = new Set<string>();
  // The program's own arguments as it receives them: a spaced one (`-H "Authorization: ..."`) is one argument, not a script.
  for (const words of [argv, ...commandWords(argv)]) {
    const program = programIndex(words);
    for (const name of programCredentials((words[program] ?? "").split("/").pop() ?? "", words.slice(program + 1))) found.add(name);
    if (words === argv) continue;
    words.forEach((word, index) => {
      const equals = word.indexOf("=");
      const [flag, inline] = word.startsWith("-") && equals > 0 ? [word.slice(0, equals), word.slice(equals + 1)] : [word, undefined];
      if (CREDENTIAL_FLAG.test(flag)) {
        const value = inline ?? words[index + 1];
        if (literal(value) && !value.startsWith("-") && !isSwitchValue(value)) found.add(flag);
        return;
      }
      // NAME=value, a dotted setting (`--set auth.rootPassword=x`), or either as a flag's inline value (`--from-literal=password=x`).
      const assignment = ASSIGNMENT.exec(word) ?? SETTING_ASSIGNMENT.exec(inline ?? (word.startsWith("-") ? "" : word));
      if (assignment && isCredentialName(assignment[1]!.split(".").pop()!) && literal(assignment[2]) && !isSwitchValue(assignment[2]!)) {
        found.add(`${assignment[1]}=`);
        return;
      }
      const url = urlPassword(word);
      if (url && literal(url.password)) {
        const host = word.slice(url.hostAt).split(/[/?#]/)[0];
        found.add(`the password of ${word.slice(0, word.indexOf("://") + 3)}…@${host}`);
      }
    });
  }
  return [...found];
}
