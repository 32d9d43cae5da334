import { readFileSync } from "node:fs";
import { join } from "node:path";

export const MAX_PASSWORD_LENGTH = 128;
const COMMON_PASSWORDS_FILE = join(__dirname, "..", "..", "data", "common-passwords.txt");

/** The bundled list (see data/common-passwords.LICENSE.txt), lower-cased for a case-blind match. */
export function loadCommonPasswords(path = COMMON_PASSWORDS_FILE): ReadonlySet<string> {
  return new Set(
    readFileSync(path, "utf8")
      .split("\n")
      .map((line) => line.trim().toLowerCase())
      .filter((line) => line !== ""),
  );
}

export interface PasswordPolicy {
  minLength: number;
  common: ReadonlySet<string>;
}

/**
 * Returns why a password is refused, or undefined. Length counts code points, so an emoji
 * passphrase is measured as a person sees it. The reasons never repeat the password.
 */
export function passwordProblem(password: string, policy: PasswordPolicy): string | undefined {
  const length = [...password].length;
  if (length < policy.minLength) return `must be at least ${policy.minLength} characters (got ${length})`;
  if (length > MAX_PASSWORD_LENGTH) return `must be at most ${MAX_PASSWORD_LENGTH} characters (got ${length})`;
  if (policy.common.has(password.toLowerCase())) return "is one of the most common passwords; choose another";
  if (new Set(password).size === 1) return "must not repeat a single character";
  return undefined;
}
