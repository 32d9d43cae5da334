import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { RedisAclRole, RedisAclUser, redisPasswordHash, renderRedisAcl } from "../../components/database/redis/redis-acl";

const hash = (password: string) => redisPasswordHash(password);

function userLine(acl: string, name: string): string[] {
  const line = acl.split("\n").find((l) => l.startsWith(`user ${name} `));
  if (!line) throw new Error(`no line for user ${name} in\n${acl}`);
  return line.split(" ");
}

const users: RedisAclUser[] = [
  { name: "users", role: "application", passwordSha256: hash("app-secret-1") },
  { name: "fundament-health", role: "healthcheck", passwordSha256: hash("health-secret") },
  { name: "fundament-exporter", role: "exporter", passwordSha256: hash("exporter-secret") },
];

describe("renderRedisAcl", () => {
  const acl = renderRedisAcl(users);

  it.each([
    ["default", "off", "the default user is disabled"],
    ["default", "-@all", "the default user may run nothing"],
    ["users", "on", "application user enabled"],
    ["users", "-@dangerous", "no server-changing or data-wiping commands"],
    ["users", "-flushall", "FLUSHALL named explicitly"],
    ["users", "-flushdb", "FLUSHDB named explicitly"],
    ["users", "-config", "CONFIG named explicitly"],
    ["users", "-debug", "DEBUG named explicitly"],
    ["users", "+info", "clients' ready check (INFO) still works"],
    ["fundament-health", "+ping", "the healthcheck may ping"],
    ["fundament-exporter", "+config|get", "the exporter reads config, cannot set it"],
  ])("user %s has %s (%s)", (name, token) => {
    expect(userLine(acl, name)).toContain(token);
  });

  it("gives the default user no password at all, and every other user only its hash", () => {
    expect(userLine(acl, "default").some((token) => token.startsWith("#") || token.startsWith(">"))).toBe(false);
    for (const user of users) {
      expect(userLine(acl, user.name)).toContain(`#${user.passwordSha256}`);
      expect(userLine(acl, user.name).some((token) => token.startsWith(">"))).toBe(false);
    }
  });

  it("the healthcheck user can run nothing but PING", () => {
    const rules = userLine(acl, "fundament-health").filter((token) => token.startsWith("+") || token.startsWith("-@"));
    expect(rules).toEqual(["-@all", "+ping"]);
  });

  it("names every problem with the user it belongs to", () => {
    expect(() =>
      renderRedisAcl([
        { name: "Bad Name", role: "application", passwordSha256: hash("x") },
        { name: "users", role: "application", passwordSha256: "plain-text" },
        { name: "users", role: "application", passwordSha256: hash("y") },
      ]),
    ).toThrow(/"Bad Name": name must match[\s\S]*"users": passwordSha256 must be 64 lower-case hex digits[\s\S]*"users": appears twice/);
  });

  it("property: no password ever appears in the file, whatever users and passwords it is given", () => {
    const role = fc.constantFrom<RedisAclRole>("application", "healthcheck", "exporter");
    // RandomPassword's alphabet; at least one character outside hex so a password cannot hide inside a hash by chance.
    const password = fc.stringMatching(/^[A-Za-z0-9]{8,40}$/).filter((p) => /[g-zA-Z]/.test(p));
    const entries = fc.uniqueArray(fc.record({ name: fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/), role, password }), {
      selector: (entry) => entry.name,
      minLength: 1,
      maxLength: 8,
    });
    fc.assert(
      fc.property(entries, (list) => {
        const rendered = renderRedisAcl(list.map(({ name, role: r, password: p }) => ({ name, role: r, passwordSha256: hash(p) })));
        for (const entry of list) {
          expect(rendered).not.toContain(entry.password);
          expect(userLine(rendered, entry.name)).toContain(`#${hash(entry.password)}`);
        }
        expect(userLine(rendered, "default")).toContain("off");
        for (const entry of list.filter((e) => e.role === "application")) {
          expect(userLine(rendered, entry.name).indexOf("-flushall")).toBeGreaterThan(userLine(rendered, entry.name).indexOf("+@all"));
        }
      }),
    );
  });
});
