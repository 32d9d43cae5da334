import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Type } from "@fastify/type-provider-typebox";
import { httpErrors } from "../src/errors";
import { createLogger } from "../src/logger";
import { createService, type ServiceApp } from "../src/service";

let app: ServiceApp;
const lines: string[] = [];

beforeAll(async () => {
  app = await createService({ name: "errors", logger: createLogger({ service: "errors", destination: { write: (l: string) => void lines.push(l) } }) });
  app.post(
    "/orders/:id",
    {
      schema: {
        params: Type.Object({ id: Type.Integer({ minimum: 1 }) }),
        querystring: Type.Object({ dryRun: Type.Optional(Type.Boolean()) }),
        body: Type.Object({ item: Type.String({ minLength: 1 }), quantity: Type.Integer({ minimum: 1, maximum: 99 }) }, { additionalProperties: false }),
      },
    },
    async (request) => {
      if (request.body.item === "crash") throw new Error("connect ECONNREFUSED 10.0.0.7:5432 password authentication failed");
      if (request.body.item === "taken") throw httpErrors.conflict("order already exists", "ORDER_EXISTS");
      if (request.body.item === "busy") throw httpErrors.tooManyRequests(2.2);
      return { id: request.params.id, ...request.body };
    },
  );
});
afterAll(() => app.close());

const post = (url: string, payload: unknown, headers: Record<string, string> = {}) =>
  app.inject({ method: "POST", url, payload: payload as string, headers });

describe("error format", () => {
  it.each([
    ["/orders/x", { item: "a", quantity: 1 }, "params.id", "must be a decimal integer"],
    ["/orders/0", { item: "a", quantity: 1 }, "params.id", "must be >= 1"],
    ["/orders/1?dryRun=perhaps", { item: "a", quantity: 1 }, "querystring.dryRun", "must be boolean"],
    ["/orders/1", { quantity: 1 }, "body.item", "is required"],
    ["/orders/1", { item: "a", quantity: 100 }, "body.quantity", "must be <= 99"],
    ["/orders/1", { item: "a", quantity: 1, price: 3 }, "body.price", "is not an allowed property"],
    ["/orders/1", [1, 2], "body", "must be object"],
    // Bodies are JSON and keep their types; only query strings and params are coerced from text.
    ["/orders/1", { item: "a", quantity: "3" }, "body.quantity", "must be integer"],
    ["/orders/1", { item: 7, quantity: 1 }, "body.item", "must be string"],
  ])("POST %s %j answers 400 naming %s", async (url, payload, field, reason) => {
    const response = await post(url, payload);
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({ error: { code: "VALIDATION_FAILED", message: `${field}: ${reason}`, details: [{ field, reason }] } });
  });

  it("coerces query strings and params from text", async () => {
    const response = await post("/orders/12?dryRun=true", { item: "a", quantity: 2 });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ id: 12, item: "a", quantity: 2 });
  });

  it("names the body when the JSON does not parse", async () => {
    const response = await post("/orders/1", '{"item":', { "content-type": "application/json" });
    expect(response.statusCode).toBe(400);
    expect(response.json().error.message).toMatch(/^body: /);
    expect(response.json().error.details[0].field).toBe("body");
  });

  it("names the content type it cannot accept", async () => {
    const response = await post("/orders/1", "<order/>", { "content-type": "application/xml" });
    expect(response.statusCode).toBe(415);
    expect(response.json().error.details[0].field).toBe("headers.content-type");
  });

  it("answers domain errors with their status, code and headers", async () => {
    const conflict = await post("/orders/1", { item: "taken", quantity: 1 });
    expect(conflict.statusCode).toBe(409);
    expect(conflict.json()).toEqual({ error: { code: "ORDER_EXISTS", message: "order already exists" } });
    const limited = await post("/orders/1", { item: "busy", quantity: 1 });
    expect(limited.statusCode).toBe(429);
    expect(limited.headers["retry-after"]).toBe("3");
  });

  it("answers 500 without internals and logs the cause", async () => {
    const response = await post("/orders/1", { item: "crash", quantity: 1 });
    expect(response.statusCode).toBe(500);
    expect(response.json()).toEqual({ error: { code: "INTERNAL", message: "internal error" } });
    expect(response.body).not.toContain("ECONNREFUSED");
    expect(lines.join("")).toContain("ECONNREFUSED");
  });

  it("answers unknown routes in the same format", async () => {
    const response = await app.inject({ method: "GET", url: "/nowhere?x=1" });
    expect(response.statusCode).toBe(404);
    expect(response.json()).toEqual({ error: { code: "NOT_FOUND", message: "route GET /nowhere not found" } });
  });
});
