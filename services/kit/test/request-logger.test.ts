import { describe, expect, it } from "vitest";
import { createLogger } from "../src/logger";
import { createService } from "../src/service";

function capture(level: string) {
  const lines: string[] = [];
  const logger = createLogger({ service: "test", level, destination: { write: (line: string) => void lines.push(line) } });
  return { logger, lines: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>) };
}

// The request's logger is built lazily (RequestLogger); what a handler writes must read exactly
// as a pino child's lines did.
describe("a request's logger", () => {
  it("writes a handler's line with the request id, and its child's bindings, once each", async () => {
    const { logger, lines } = capture("info");
    const app = await createService({ name: "test", logger, requestLogging: false });
    app.get("/work", async (request) => {
      request.log.child({ job: "j-1" }).child({ step: 2 }).info({ rows: 3 }, "step done");
      request.log.info("plain message %s", "formatted");
      return { ok: true };
    });
    const response = await app.inject({ method: "GET", url: "/work" });
    expect(response.statusCode).toBe(200);
    const [step, plain] = lines();
    expect(step).toMatchObject({ service: "test", level: "info", reqId: "req-1", job: "j-1", step: 2, rows: 3, msg: "step done" });
    expect(plain).toMatchObject({ reqId: "req-1", msg: "plain message formatted" });
    expect(lines()).toHaveLength(2);
  });

  it("serializes an error passed first, as pino does", async () => {
    const { logger, lines } = capture("info");
    const app = await createService({ name: "test", logger, requestLogging: false });
    app.get("/fail", async (request) => {
      request.log.warn(new Error("disk full"), "could not write");
      request.log.error(new Error("no message given"));
      return { ok: true };
    });
    await app.inject({ method: "GET", url: "/fail" });
    const [warned, errored] = lines();
    expect(warned).toMatchObject({ level: "warn", reqId: "req-1", msg: "could not write", err: { type: "Error", message: "disk full" } });
    expect(errored).toMatchObject({ level: "error", msg: "no message given", err: { message: "no message given" } });
  });

  it("drops lines below the service's level and follows a level changed while the service runs", async () => {
    const { logger, lines } = capture("info");
    const app = await createService({ name: "test", logger, requestLogging: false });
    app.get("/", async (request) => {
      request.log.debug("detail");
      request.log.trace("more detail");
      request.log.info("summary");
      return { level: request.log.level };
    });
    expect((await app.inject({ method: "GET", url: "/" })).json()).toEqual({ level: "info" });
    expect(lines().map((line) => line.msg)).toEqual(["summary"]);

    logger.level = "debug";
    expect((await app.inject({ method: "GET", url: "/" })).json()).toEqual({ level: "debug" });
    expect(lines().map((line) => line.msg)).toEqual(["summary", "detail", "summary"]);
  });

  it("honours a route's own log level", async () => {
    const { logger, lines } = capture("warn");
    const app = await createService({ name: "test", logger, requestLogging: false });
    app.get("/verbose", { logLevel: "debug" }, async (request) => {
      request.log.debug("route detail");
      return { ok: true };
    });
    app.get("/quiet", async (request) => {
      request.log.debug("hidden detail");
      return { ok: true };
    });
    await app.inject({ method: "GET", url: "/verbose" });
    await app.inject({ method: "GET", url: "/quiet" });
    expect(lines().map((line) => line.msg)).toEqual(["route detail"]);
  });

  it("lets a handler raise its own request's level", async () => {
    const { logger, lines } = capture("warn");
    const app = await createService({ name: "test", logger, requestLogging: false });
    app.get("/", async (request) => {
      request.log.level = "debug";
      request.log.debug("now visible");
      return { ok: true };
    });
    await app.inject({ method: "GET", url: "/" });
    await app.inject({ method: "GET", url: "/" });
    expect(lines().map((line) => [line.msg, line.reqId])).toEqual([
      ["now visible", "req-1"],
      ["now visible", "req-2"],
    ]);
    logger.debug("the service's own level is unchanged");
    expect(lines()).toHaveLength(2);
  });
});
