// The container start command, run by a real /bin/sh against temporary files: the Erlang cookie
// the runtime mounted (group-readable, as Kubernetes leaves it under an fsGroup) must reach HOME
// owner-only before the image's entrypoint starts the node.
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ERLANG_COOKIE_PATH, ERLANG_COOKIE_SECRET_PATH, rabbitStartCommand, renderStartScript } from "../../components/broker/rabbitmq-start";

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "fundament rabbit start '"));
  mkdirSync(join(dir, "bin"));
  // Stands in for the image's docker-entrypoint.sh: records what it was started with.
  writeFileSync(join(dir, "bin", "docker-entrypoint.sh"), `#!/bin/sh\nprintf '%s\\n' "$@" > "$RECORD"\n`, { mode: 0o755 });
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

function run(secret: string, cookie: string): { status: number | null; stderr: string } {
  const script = renderStartScript({ cookieSecretPath: secret, cookiePath: cookie, exec: ["docker-entrypoint.sh", "rabbitmq-server"] });
  const result = spawnSync("/bin/sh", ["-c", script], { env: { PATH: `${join(dir, "bin")}:/usr/bin:/bin`, RECORD: join(dir, "record") }, encoding: "utf8" });
  return { status: result.status, stderr: result.stderr };
}

describe("RabbitMQ start command", () => {
  it("installs a group-readable cookie secret owner-only, then hands over to the entrypoint", () => {
    const secret = join(dir, "erlang-cookie");
    const cookie = join(dir, ".erlang.cookie");
    writeFileSync(secret, "CLUSTERCOOKIE");
    chmodSync(secret, 0o440);
    expect(run(secret, cookie).status).toBe(0);
    expect(statSync(cookie).mode & 0o777).toBe(0o600);
    expect(readFileSync(cookie, "utf8")).toBe("CLUSTERCOOKIE");
    expect(readFileSync(join(dir, "record"), "utf8")).toBe("rabbitmq-server\n");
  });

  it("replaces the cookie left by the previous start, as after a restart with a rotated secret", () => {
    const secret = join(dir, "erlang-cookie");
    const cookie = join(dir, ".erlang.cookie");
    writeFileSync(cookie, "OLDCOOKIE", { mode: 0o600 });
    writeFileSync(secret, "NEWCOOKIE", { mode: 0o400 });
    expect(run(secret, cookie).status).toBe(0);
    expect(readFileSync(cookie, "utf8")).toBe("NEWCOOKIE");
    expect(statSync(cookie).mode & 0o777).toBe(0o600);
  });

  it("does not start the node when the cookie secret is missing", () => {
    const result = run(join(dir, "missing"), join(dir, ".erlang.cookie"));
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/missing/);
    expect(existsSync(join(dir, "record"))).toBe(false);
  });

  it("is what the component runs, with the image's entrypoint and the mounted secret", () => {
    const [shell, flag, script] = rabbitStartCommand();
    expect([shell, flag]).toEqual(["/bin/sh", "-c"]);
    expect(script).toBe(renderStartScript({ cookieSecretPath: ERLANG_COOKIE_SECRET_PATH, cookiePath: ERLANG_COOKIE_PATH, exec: ["docker-entrypoint.sh", "rabbitmq-server"] }));
  });
});
