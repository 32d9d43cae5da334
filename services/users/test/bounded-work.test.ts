import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
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
