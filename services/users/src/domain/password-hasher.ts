import * as argon2 from "argon2";
import { ConcurrencyLimit } from "./concurrency-limit";

/** Argon2id cost parameters; the defaults are the OWASP Password Storage Cheat Sheet minimum. */
export interface Argon2Params {
  memoryKiB: number;
  iterations: number;
  parallelism: number;
}

export const OWASP_ARGON2ID: Argon2Params = { memoryKiB: 19_456, iterations: 2, parallelism: 1 };

/**
 * Each argon2 call holds `memoryKiB` of RAM and a libuv worker thread for its whole run. Without
 * a bound, a burst of 200 logins asks for 200 × 19 MiB at once and starves the same four
 * threads that PostgreSQL's SCRAM handshake (WebCrypto PBKDF2), DNS and file reads need, so new
 * database connections time out. Calls beyond `maxConcurrency` wait their turn in memory.
 */
export class PasswordHasher {
  /** Verifying against this keeps an unknown email as slow as a wrong password. */
  private dummyHash: Promise<string> | undefined;
  private readonly limit: ConcurrencyLimit;

  constructor(
    readonly params: Argon2Params,
    maxConcurrency = 2,
  ) {
    this.limit = new ConcurrencyLimit(maxConcurrency);
  }

  private get options(): argon2.HashOptions {
    return { type: argon2.argon2id, memoryCost: this.params.memoryKiB, timeCost: this.params.iterations, parallelism: this.params.parallelism };
  }

  /** A PHC string: $argon2id$v=19$m=…,t=…,p=…$salt$hash. */
  hash(password: string): Promise<string> {
    return this.limit.run(() => argon2.hash(password, this.options));
  }

  verify(phc: string, password: string): Promise<boolean> {
    return this.limit.run(() => argon2.verify(phc, password));
  }

  /** True when the stored hash was made with other parameters (or another variant) than today's. */
  needsRehash(phc: string): boolean {
    if (!phc.startsWith("$argon2id$")) return true;
    return argon2.needsRehash(phc, { memoryCost: this.params.memoryKiB, timeCost: this.params.iterations, parallelism: this.params.parallelism });
  }

  /** Burns the same time as a real verification, for logins of accounts that do not exist. */
  async verifyNothing(password: string): Promise<false> {
    this.dummyHash ??= this.hash("no account has this password, it only costs time");
    const dummy = await this.dummyHash;
    await this.limit.run(() => argon2.verify(dummy, password));
    return false;
  }
}
