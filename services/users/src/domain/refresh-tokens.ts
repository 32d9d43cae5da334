import { createHash, randomBytes } from "node:crypto";
import type { Pool, PoolClient } from "@fundament/kit";

/** 256 bits of randomness; the client holds the token, the database only its SHA-256. */
function newToken(): { token: string; hash: Buffer } {
  const token = randomBytes(32).toString("base64url");
  return { token, hash: hashToken(token) };
}

export function hashToken(token: string): Buffer {
  return createHash("sha256").update(token).digest();
}

export type RotationOutcome =
  | { kind: "rotated"; userId: string; familyId: string; token: string }
  | { kind: "unknown" }
  | { kind: "expired" }
  | { kind: "revoked" }
  | { kind: "reused"; userId: string; familyId: string };

export class RefreshTokens {
  constructor(
    private readonly pool: Pool,
    private readonly ttlSeconds: number,
  ) {}

  /** Starts a new family (one per login). */
  async issue(userId: string, db: Pool | PoolClient = this.pool): Promise<string> {
    const { token, hash } = newToken();
    await db.query(
      "insert into refresh_tokens (family_id, user_id, token_hash, expires_at) values (gen_random_uuid(), $1, $2, now() + make_interval(secs => $3))",
      [userId, hash, this.ttlSeconds],
    );
    return token;
  }

  /**
   * Spends `token` and issues its successor in the same family. A token that was already spent
   * means it was copied: the whole family is revoked, so neither copy works any more.
   * `isUserActive` runs inside the transaction (a disabled user gets no new token).
   */
  async rotate(token: string, isUserActive: (userId: string, db: PoolClient) => Promise<boolean>): Promise<RotationOutcome> {
    const client = await this.pool.connect();
    try {
      await client.query("begin");
      const found = await client.query<{ id: string; family_id: string; user_id: string; used_at: Date | null; revoked_at: Date | null; expired: boolean }>(
        "select id, family_id, user_id, used_at, revoked_at, expires_at <= now() as expired from refresh_tokens where token_hash = $1 for update",
        [hashToken(token)],
      );
      const row = found.rows[0];
      let outcome: RotationOutcome;
      if (!row) outcome = { kind: "unknown" };
      else if (row.revoked_at !== null) outcome = { kind: "revoked" };
      else if (row.used_at !== null) {
        await client.query("update refresh_tokens set revoked_at = now() where family_id = $1 and revoked_at is null", [row.family_id]);
        outcome = { kind: "reused", userId: row.user_id, familyId: row.family_id };
      } else if (row.expired) outcome = { kind: "expired" };
      else if (!(await isUserActive(row.user_id, client))) {
        await client.query("update refresh_tokens set revoked_at = now() where family_id = $1", [row.family_id]);
        outcome = { kind: "revoked" };
      } else {
        const next = newToken();
        await client.query("update refresh_tokens set used_at = now() where id = $1", [row.id]);
        await client.query(
          "insert into refresh_tokens (family_id, user_id, token_hash, expires_at) values ($1, $2, $3, now() + make_interval(secs => $4))",
          [row.family_id, row.user_id, next.hash, this.ttlSeconds],
        );
        outcome = { kind: "rotated", userId: row.user_id, familyId: row.family_id, token: next.token };
      }
      await client.query("commit");
      return outcome;
    } catch (error) {
      await client.query("rollback").catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  /** Logout: the token's family ends. False when the token is unknown. */
  async revokeFamilyOf(token: string): Promise<boolean> {
    const result = await this.pool.query(
      `update refresh_tokens set revoked_at = coalesce(revoked_at, now())
       where family_id = (select family_id from refresh_tokens where token_hash = $1)`,
      [hashToken(token)],
    );
    return (result.rowCount ?? 0) > 0;
  }

  async revokeAllOf(userId: string, db: Pool | PoolClient = this.pool): Promise<void> {
    await db.query("update refresh_tokens set revoked_at = now() where user_id = $1 and revoked_at is null", [userId]);
  }
}
