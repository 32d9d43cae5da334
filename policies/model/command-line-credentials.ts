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

const SHELLS = new Set(["sh", "bash", "ash", "dash", "zsh", "ksh"]);

/** A value that names a secret rather than holding one: a variable, a command substitution, a path. */
export function isValueReference(value: string): boolean {
  return /^\$[({]?[A-Za-z_]/.test(value) || value.startsWith("$(") || value.startsWith("`") || value.startsWith("/") || value.startsWith("file:");
}

/** A switch, not a credential: PASSWORD_RESET=false says nothing secret. */
export function isSwitchValue(value: string): boolean {
  return /^(true|false|yes|no|on|off|enabled|disabled)$/i.test(value.trim());
}

/**
 * A shell script's words, quotes removed: enough to find `--password x`, `PGPASSWORD=x psql` and
 * URLs in it, not a shell. Separators (; && || | newlines) end words as whitespace does.
 */
export function shellWords(script: string): string[] {
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
    } else if (/[\s;&|()]/.test(char) && !(char === "(" && word.endsWith("$"))) {
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
 * The argument vectors a command line runs: its own words, and each shell script among them
 * (after `sh -c`, or any argument with spaces: `bash -ec "..."`, an entrypoint's one string) as
 * the words the shell will see. A script is read only as words, so its quotes do not count.
 */
function commandWords(argv: readonly string[]): string[][] {
  const own: string[] = [];
  const scripts: string[][] = [];
  argv.forEach((argument, index) => {
    const afterShellC = argv[index - 1] === "-c" && SHELLS.has((argv[index - 2] ?? "").split("/").pop() ?? "");
    if (afterShellC || /\s/.test(argument.trim())) scripts.push(shellWords(argument));
    else own.push(argument);
  });
  return [own, ...scripts];
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
  for (const words of commandWords(argv)) {
    words.forEach((word, index) => {
      const equals = word.indexOf("=");
      const [flag, inline] = word.startsWith("-") && equals > 0 ? [word.slice(0, equals), word.slice(equals + 1)] : [word, undefined];
      if (CREDENTIAL_FLAG.test(flag)) {
        const value = inline ?? words[index + 1];
        if (literal(value) && !value.startsWith("-") && !isSwitchValue(value)) found.add(flag);
        return;
      }
      const assignment = ASSIGNMENT.exec(word);
      if (assignment && isCredentialName(assignment[1]!) && literal(assignment[2]) && !isSwitchValue(assignment[2]!)) {
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
