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

describe("request logging", () => {
  function captureAt(level: string) {
    const lines: Array<Record<string, unknown>> = [];
    const logger = createLogger({ service: "test", level, destination: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) } });
    return { logger, lines };
  }
  const requestLines = (lines: Array<Record<string, unknown>>) => lines.filter((line) => line.reqId !== undefined);

  it("writes one access line per request at info, with method, URL, route, status and duration", async () => {
    const { logger, lines } = captureAt("info");
    const app = await createService({ name: "test", logger });
    app.get("/widgets/:id", async () => ({ ok: true }));
    expect((await app.inject({ method: "GET", url: "/widgets/42?view=full" })).statusCode).toBe(200);
    expect((await app.inject({ method: "GET", url: "/nowhere" })).statusCode).toBe(404);
    expect((await app.inject({ method: "GET", url: "/health/live" })).statusCode).toBe(200);
    await app.close();

    const [found, missing, ...rest] = requestLines(lines);
    expect(rest).toEqual([]);
    expect(found).toMatchObject({ level: "info", msg: "request completed", route: "/widgets/:id", req: { method: "GET", url: "/widgets/42?view=full" }, res: { statusCode: 200 } });
    expect(typeof found!.responseTime).toBe("number");
    expect(missing).toMatchObject({ msg: "request completed", route: "unmatched", req: { url: "/nowhere" }, res: { statusCode: 404 } });
  });

  it("keeps a failed request's error line beside its access line, and logs each request's arrival only at debug", async () => {
    const { logger, lines } = captureAt("debug");
    const app = await createService({ name: "test", logger });
    app.get("/boom", async () => {
      throw new Error("disk on fire");
    });
    app.get("/fine", async () => ({ ok: true }));
    expect((await app.inject({ method: "GET", url: "/boom" })).statusCode).toBe(500);
    expect((await app.inject({ method: "GET", url: "/fine" })).statusCode).toBe(200);
    await app.close();

    const byRequest = requestLines(lines);
    const arrivals = byRequest.filter((line) => line.msg === "incoming request");
    expect(arrivals.map((line) => [line.level, (line.req as { url: string }).url])).toEqual([
      ["debug", "/boom"],
      ["debug", "/fine"],
    ]);
    const completions = byRequest.filter((line) => line.res !== undefined && line.responseTime !== undefined);
    expect(completions).toHaveLength(2);
    expect(completions[0]).toMatchObject({ level: "info", route: "/boom", req: { method: "GET", url: "/boom" }, res: { statusCode: 500 } });
    const failure = byRequest.find((line) => line.level === "error");
    expect(failure).toMatchObject({ msg: "request failed", reqId: completions[0]!.reqId, err: { message: "disk on fire" } });
    expect(completions[1]).toMatchObject({ level: "info", msg: "request completed", route: "/fine", res: { statusCode: 200 } });
  });

  it("writes no request lines when request logging is off", async () => {
    const { logger, lines } = captureAt("debug");
    const app = await createService({ name: "test", logger, requestLogging: false });
    app.get("/quiet", async () => ({ ok: true }));
    expect((await app.inject({ method: "GET", url: "/quiet" })).statusCode).toBe(200);
    await app.close();
    expect(requestLines(lines).filter((line) => line.req !== undefined || line.res !== undefined)).toEqual([]);
  });
});
