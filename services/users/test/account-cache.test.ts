import { EnvError } from "@fundament/kit";
import { describe, expect, it } from "vitest";
import { loadUsersConfig } from "../src/config";
import { AccountCache } from "../src/domain/account-cache";
import type { UserRecord } from "../src/domain/user-records";

const user = (id: string, roles: string[] = ["user"]): UserRecord => ({
  id,
  email: `${id}@example.com`,
  displayName: null,
  passwordHash: "x",
  roles,
  disabledAt: null,
  createdAt: new Date(0),
});

/** A feed whose stretch of listening the test sets: a number while listening, undefined while deaf. */
const feed = (): { continuity: number | undefined } => ({ continuity: 1 });

describe("AccountCache", () => {
  it("does not let a read that started before a change put the old row back", () => {
    const cache = new AccountCache(feed(), { maxEntries: 10, ttlMs: 60_000 });
    const before = cache.ticket();
    cache.changed("a");
    expect(cache.offer(user("a"), before)).toBe(false);
    expect(cache.get("a")).toBeUndefined();
    // Another account's read of the same moment is unaffected.
    expect(cache.offer(user("b"), before)).toBe(true);
    const after = cache.ticket();
    expect(cache.offer(user("a", ["admin"]), after)).toBe(true);
    expect(cache.get("a")?.roles).toEqual(["admin"]);
    cache.changed("a");
    expect(cache.get("a")).toBeUndefined();
  });

  it("still refuses an old read once so many other accounts changed that its account's change was forgotten", () => {
    const cache = new AccountCache(feed(), { maxEntries: 10, ttlMs: 60_000 });
    const before = cache.ticket();
    cache.changed("a");
    for (let n = 0; n < 20_000; n += 1) cache.changed(`other-${n}`);
    expect(cache.offer(user("a"), before)).toBe(false);
    expect(cache.offer(user("a"), cache.ticket())).toBe(true);
  });

  it("holds nothing while deaf, and trusts nothing learnt before a reconnect", () => {
    const stretch = feed();
    const cache = new AccountCache(stretch, { maxEntries: 10, ttlMs: 60_000 });
    expect(cache.offer(user("a"), cache.ticket())).toBe(true);
    const inFlight = cache.ticket();
    stretch.continuity = undefined;
    expect(cache.get("a")).toBeUndefined();
    expect(cache.offer(user("b"), cache.ticket())).toBe(false);
    stretch.continuity = 2;
    expect(cache.offer(user("c"), inFlight)).toBe(false);
    expect(cache.get("a")).toBeUndefined();
    expect(cache.offer(user("c"), cache.ticket())).toBe(true);
  });

  it("a flush drops everything and refuses reads already under way", () => {
    const cache = new AccountCache(feed(), { maxEntries: 10, ttlMs: 60_000 });
    cache.offer(user("a"), cache.ticket());
    const inFlight = cache.ticket();
    cache.flush();
    expect(cache.size).toBe(0);
    expect(cache.offer(user("b"), inFlight)).toBe(false);
  });

  it("keeps at most its bound, oldest out first, and nothing past its TTL", () => {
    let now = 1000;
    const cache = new AccountCache(feed(), { maxEntries: 2, ttlMs: 500, now: () => now });
    for (const id of ["a", "b", "c"]) cache.offer(user(id), cache.ticket());
    expect(cache.size).toBe(2);
    expect([cache.get("a"), cache.get("b")?.id, cache.get("c")?.id]).toEqual([undefined, "b", "c"]);
    now = 1500;
    expect(cache.get("b")).toBeUndefined();
    const none = new AccountCache(feed(), { maxEntries: 0, ttlMs: 500 });
    expect(none.offer(user("a"), none.ticket())).toBe(false);
  });
});

describe("the account cache's settings", () => {
  const problems = (source: Record<string, string>): string[] => {
    try {
      loadUsersConfig(source);
    } catch (error) {
      if (error instanceof EnvError) return error.problems;
      throw error;
    }
    return [];
  };

  it("refuses a bound that is not a count, naming the variable, the reason and the value", () => {
    expect(problems({ ACCOUNT_CACHE_MAX_ENTRIES: "lots" })).toContain('ACCOUNT_CACHE_MAX_ENTRIES: must be an integer (got "lots")');
    expect(problems({ ACCOUNT_CACHE_MAX_ENTRIES: "-1" })).toContain("ACCOUNT_CACHE_MAX_ENTRIES: must be at least 0 (got -1)");
    expect(problems({ ACCOUNT_CACHE_MAX_ENTRIES: "5000000" })).toContain("ACCOUNT_CACHE_MAX_ENTRIES: must be at most 1000000 (got 5000000)");
    expect(problems({ ACCOUNT_CACHE_TTL_SECONDS: "100000" })).toContain("ACCOUNT_CACHE_TTL_SECONDS: must be at most 86400 (got 100000)");
    expect(problems({ ACCOUNT_CACHE_MAX_ENTRIES: "20000" }).filter((line) => line.startsWith("ACCOUNT_CACHE"))).toEqual([]);
  });
});
