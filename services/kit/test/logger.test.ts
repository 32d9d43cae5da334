import { describe, expect, it } from "vitest";
import { createLogger } from "../src/logger";
import { createService } from "../src/service";

function capture() {
  const lines: string[] = [];
  const logger = createLogger({ service: "test", level: "debug", destination: { write: (line: string) => void lines.push(line) } });
  return { logger, lines, text: () => lines.join("") };
}

describe("log redaction", () => {
  it("never writes a logged password, token or authorization header", () => {
    const { logger, text, lines } = capture();
    logger.info({ password: "pw-top-1", user: { password: "pw-nested-2" } }, "login");
    logger.info({ req: { headers: { authorization: "Bearer tok-3", cookie: "sid=cookie-4" } } }, "request");
    logger.warn({ err: { body: { refreshToken: "rt-5", newPassword: "pw-6" } } }, "failed");
    logger.info({ accessToken: "at-7", clientSecret: "cs-8" }, "issued");
    logger.info({ a: { b: { c: { d: { e: { PASSWORD: "pw-deep-9" } } } } }, list: [{ token: "tok-10" }] }, "deep");
    const failure = Object.assign(new Error("upstream refused"), { request: { headers: { Authorization: "Bearer tok-11" } } });
    logger.error({ err: failure }, "call failed");
    for (const secret of ["pw-top-1", "pw-nested-2", "tok-3", "cookie-4", "rt-5", "pw-6", "at-7", "cs-8", "pw-deep-9", "tok-10", "tok-11"]) {
      expect(text()).not.toContain(secret);
    }
    expect(text()).toContain("upstream refused");
    expect(JSON.parse(lines[0]!)).toMatchObject({ service: "test", level: "info", password: "[redacted]", user: { password: "[redacted]" }, msg: "login" });
  });

  it("redacts credentials a route logs from its request", async () => {
    const { logger, text } = capture();
    const app = await createService({ name: "test", logger });
    app.post("/login", async (request) => {
      request.log.info({ headers: request.headers, body: request.body }, "login attempt");
      return { ok: true };
    });
    const response = await app.inject({
      method: "POST",
      url: "/login",
      headers: { authorization: "Bearer eyJ-secret-jwt", cookie: "session=abc-cookie" },
      payload: { email: "a@example.com", password: "correct horse battery" },
    });
    expect(response.statusCode).toBe(200);
    expect(text()).toContain("a@example.com");
    expect(text()).not.toContain("eyJ-secret-jwt");
    expect(text()).not.toContain("abc-cookie");
    expect(text()).not.toContain("correct horse battery");
    await app.close();
  });
});
