import type { Pool } from "@fundament/kit";
import { userRecords, type UserRecord } from "./user-records";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Reads accounts by id, folding the look-ups that miss the cache in one turn of the event loop
 * into one statement. Under load every authenticated request needs its account, and one round
 * trip per request would hold a pool connection each; one `= any($1)` per turn holds one.
 */
export class AccountLoader {
  private pending = new Map<string, Array<{ resolve: (user: UserRecord | undefined) => void; reject: (error: unknown) => void }>>();
  private scheduled = false;

  constructor(
    private readonly pool: Pool,
    /** At most this many ids per statement; the rest wait for the next one. */
    private readonly maxBatch = 500,
  ) {}

  load(id: string): Promise<UserRecord | undefined> {
    // A token's subject is an id this service issued; anything else cannot name an account, and
    // one malformed id must not fail the whole batch's uuid cast.
    if (!UUID.test(id)) return Promise.resolve(undefined);
    return new Promise((resolve, reject) => {
      const waiting = this.pending.get(id);
      if (waiting) waiting.push({ resolve, reject });
      else this.pending.set(id, [{ resolve, reject }]);
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batch = new Map<string, Array<{ resolve: (user: UserRecord | undefined) => void; reject: (error: unknown) => void }>>();
    for (const [id, waiting] of this.pending) {
      if (batch.size >= this.maxBatch) break;
      batch.set(id, waiting);
    }
    for (const id of batch.keys()) this.pending.delete(id);
    if (this.pending.size > 0) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
    userRecords.byIds(this.pool, [...batch.keys()]).then(
      (users) => {
        const byId = new Map(users.map((user) => [user.id, user]));
        for (const [id, waiting] of batch) for (const { resolve } of waiting) resolve(byId.get(id));
      },
      (error: unknown) => {
        for (const waiting of batch.values()) for (const { reject } of waiting) reject(error);
      },
    );
  }
}
