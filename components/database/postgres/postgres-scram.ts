import { createHash, createHmac, pbkdf2Sync } from "node:crypto";

/** PostgreSQL 15 always writes 4096 iterations; matching it keeps verifiers interchangeable. */
export const SCRAM_ITERATIONS = 4096;

/**
 * A SCRAM-SHA-256 verifier in the form PostgreSQL stores in pg_authid and PgBouncer reads from
 * its userlist (RFC 5802 / RFC 7677). Computing it here lets the init SQL and the userlist carry
 * the same verifier instead of the password: PgBouncer can then log in to PostgreSQL with the
 * keys the client proved, which only works when both hold the identical salt and iterations.
 *
 * Passwords are generated alphanumeric, so SASLprep leaves them unchanged; anything else is
 * refused rather than normalised differently from PostgreSQL.
 */
export function scramSha256Verifier(password: string, saltBase64: string, iterations = SCRAM_ITERATIONS): string {
  if (!/^[\x21-\x7e]+$/.test(password)) throw new Error("password: must be printable ASCII without spaces for SCRAM (SASLprep is not applied)");
  const salt = Buffer.from(saltBase64, "base64");
  if (salt.length < 8 || salt.toString("base64") !== saltBase64) throw new Error(`salt: must be canonical base64 of at least 8 bytes (got ${JSON.stringify(saltBase64)})`);
  if (!Number.isInteger(iterations) || iterations < 4096) throw new Error(`iterations: must be an integer of at least 4096 (got ${iterations})`);
  const salted = pbkdf2Sync(password, salt, iterations, 32, "sha256");
  const clientKey = createHmac("sha256", salted).update("Client Key").digest();
  const storedKey = createHash("sha256").update(clientKey).digest();
  const serverKey = createHmac("sha256", salted).update("Server Key").digest();
  return `SCRAM-SHA-256$${iterations}:${saltBase64}$${storedKey.toString("base64")}:${serverKey.toString("base64")}`;
}
