import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Pool } from "@fundament/kit";
import { AccountLoader } from "../src/domain/account-loader";
import { ConcurrencyLimit } from "../src/domain/concurrency-limit";
import { ExpiringCache } from "../src/domain/expiring-cache";
import { loadCommonPasswords, passwordProblem } from "../src/domain/password-policy";

describe("ConcurrencyLimit", () => {
  it("never runs more than its limit at once, and runs every task", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 4 }), fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 25 }), async (limit, delays) => {
        const gate = new ConcurrencyLimit(limit);
        let running = 0;
        let peak = 0;
        const results = await Promise.all(
          delays.map((delay, index) =>
            gate.run(async () => {
              running += 1;
              peak = Math.max(peak, running);
              await new Promise((resolve) => setTimeout(resolve, delay));
              running -= 1;
              if (index % 5 === 4) throw new Error(`task ${index} failed`);
              return index;
            }).catch((error: Error) => error.message),
          ),
        );
        expect(peak).toBeLessThanOrEqual(limit);
        expect(results).toEqual(delays.map((_, index) => (index % 5 === 4 ? `task ${index} failed` : index)));
        expect(gate.queued).toBe(0);
      }),
      { numRuns: 40 },
    );
  });
});

describe("ExpiringCache", () => {
  it("forgets entries at their expiry and keeps at most its bound, oldest out first", () => {
    let now = 1000;
    const cache = new ExpiringCache<string>(2, () => now);
    cache.set("a", "A", 1500);
    cache.set("b", "B", 3000);
    expect(cache.get("a")).toBe("A");
    now = 1500;
    expect(cache.get("a")).toBeUndefined();
    cache.set("c", "C", 3000);
    cache.set("d", "D", 3000);
    expect(cache.size).toBe(2);
    expect(cache.get("b")).toBeUndefined();
    expect([cache.get("c"), cache.get("d")]).toEqual(["C", "D"]);
    cache.set("e", "E", 1000);
    expect(cache.get("e")).toBeUndefined();
  });
});

describe("AccountLoader", () => {
  const id = (n: number) => `00000000-0000-4000-8000-${n.toString().padStart(12, "0")}`;
  /** A pool that answers the users-by-ids statement from `known` and records each call's ids. */
  function recordingPool(known: Set<string>, fail = false): { pool: Pool; calls: string[][] } {
    const calls: string[][] = [];
    const query = async (_sql: string, [ids]: [string[]]) => {
      calls.push(ids);
      await new Promise((resolve) => setTimeout(resolve, 1));
      if (fail) throw new Error("connection terminated");
      const rows = ids.filter((x) => known.has(x)).map((x) => ({ id: x, email: `${x}@example.org`, display_name: null, password_hash: "h", roles: [], disabled_at: null, created_at: new Date(0) }));
      return { rows };
    };
    return { pool: { query } as unknown as Pool, calls };
  }

  it("reads the accounts asked for in one turn with one statement, each asker getting its own", async () => {
    const known = new Set([1, 2, 3].map(id));
    const { pool, calls } = recordingPool(known);
    const loader = new AccountLoader(pool);
    const asked = [1, 2, 2, 3, 4].map(id);
    const users = await Promise.all(asked.map((x) => loader.load(x)));
    expect(calls).toEqual([[id(1), id(2), id(3), id(4)]]);
    expect(users.map((user) => user?.id)).toEqual([id(1), id(2), id(2), id(3), undefined]);
  });

  it("splits a burst larger than its batch, and never sends a malformed id to the database", async () => {
    const { pool, calls } = recordingPool(new Set([id(7)]));
    const loader = new AccountLoader(pool, 3);
    const users = await Promise.all([...[1, 2, 3, 4, 5, 6, 7].map((n) => loader.load(id(n))), loader.load("not-a-uuid'; drop table users")]);
    expect(calls.map((c) => c.length)).toEqual([3, 3, 1]);
    expect(calls.flat()).not.toContain("not-a-uuid'; drop table users");
    expect(users.filter((user) => user !== undefined).map((user) => user!.id)).toEqual([id(7)]);
  });

  it("fails every asker of a batch whose statement failed", async () => {
    const failing = recordingPool(new Set(), true);
    const loader = new AccountLoader(failing.pool);
    const results = await Promise.allSettled([loader.load(id(1)), loader.load(id(2))]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    expect(failing.calls).toHaveLength(1);
  });
});

describe("password policy", () => {
  const common = loadCommonPasswords();

  it("bundles a real list of common passwords", () => {
    expect(common.size).toBeGreaterThan(40_000);
    for (const password of ["123456", "password", "qwerty123456", "iloveyou"]) expect(common.has(password)).toBe(true);
  });

  it("accepts any long enough, uncommon password and never echoes one in a reason", () => {
    fc.assert(
      fc.property(fc.string({ minLength: 12, maxLength: 128, unit: "grapheme" }), (password) => {
        const problem = passwordProblem(password, { minLength: 12, common });
        if (problem !== undefined) {
          expect(problem).not.toContain(password);
          const length = [...password].length;
          expect(length < 12 || length > 128 || common.has(password.toLowerCase()) || new Set(password).size === 1).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });
});
