import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Type, type TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { createLogger } from "../src/logger";
import { createService, type ServiceApp } from "../src/service";

let app: ServiceApp;

beforeAll(async () => {
  app = await createService({ name: "strict-integers", logger: createLogger({ service: "strict-integers", destination: { write: () => undefined } }) });
  // Registered in a child plugin, the way services add their routes: the check must reach them too.
  await app.register(async (plugin) => {
    plugin.withTypeProvider<TypeBoxTypeProvider>().get(
      "/items/:id",
      {
        schema: {
          params: Type.Object({ id: Type.Integer({ minimum: 0 }) }),
          querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })), name: Type.Optional(Type.String()) }),
        },
      },
      async (request) => ({ id: request.params.id, limit: request.query.limit, name: request.query.name }),
    );
    // Composed schemas: an intersection, a union of integers, and a union of objects where one
    // branch reads `page` as text (so only Ajv judges it) and both read `size` as an integer.
    plugin.withTypeProvider<TypeBoxTypeProvider>().get(
      "/composed",
      {
        schema: {
          querystring: Type.Union([
            Type.Intersect([Type.Object({ size: Type.Integer() }), Type.Object({ depth: Type.Optional(Type.Union([Type.Integer({ maximum: 3 }), Type.Integer({ minimum: 10 })])) })]),
            Type.Object({ size: Type.Integer(), page: Type.Union([Type.Integer(), Type.Literal("last")]) }),
          ]),
        },
      },
      async () => ({ ok: true }),
    );
    plugin.withTypeProvider<TypeBoxTypeProvider>().get(
      "/headed",
      { schema: { headers: Type.Object({ "x-page": Type.Optional(Type.Integer({ minimum: 1 })) }) } },
      async (request) => ({ page: request.headers["x-page"] }),
    );
  });
});
afterAll(() => app.close());

async function get(url: string) {
  const response = await app.inject({ method: "GET", url });
  return { status: response.statusCode, body: response.json() as { id?: number; limit?: number; error?: { message: string } } };
}

describe("integers in paths, query strings and headers", () => {
  it.each([" ", "%20", "%09", "%20%207", "7%20", "", "0x10", "1e3", "+1", "1.0", "007", "Infinity", "true"])("refuses limit=%j, naming querystring.limit", async (text) => {
    const { status, body } = await get(`/items/1?limit=${text}`);
    expect(status).toBe(400);
    expect(body.error?.message).toBe("querystring.limit: must be a decimal integer");
  });

  it("refuses a repeated integer, which arrives as a list", async () => {
    const { status, body } = await get("/items/1?limit=1&limit=2");
    expect(status).toBe(400);
    expect(body.error?.message).toMatch(/^querystring\.limit: /);
  });

  it.each(["%20", "0x1", "1e1", "-"])("refuses the path integer %j, naming params.id", async (text) => {
    const { status, body } = await get(`/items/${text}`);
    expect(status).toBe(400);
    expect(body.error?.message).toBe("params.id: must be a decimal integer");
  });

  it("finds the integers of composed schemas: intersections, unions of integers, unions of objects", async () => {
    expect((await get("/composed?size=%20")).body.error?.message).toBe("querystring.size: must be a decimal integer");
    expect((await get("/composed?size=1&depth=0x1")).body.error?.message).toBe("querystring.depth: must be a decimal integer");
    expect((await get("/composed?size=1&depth=11")).status).toBe(200);
    // `page` may be the text "last" in one branch, so the hook leaves it to the schema.
    expect((await get("/composed?size=1&page=last")).status).toBe(200);
  });

  it("holds header integers to the same rule", async () => {
    const sent = async (value: string) => {
      const response = await app.inject({ method: "GET", url: "/headed", headers: { "x-page": value } });
      return { status: response.statusCode, body: response.json() as { page?: number; error?: { message: string } } };
    };
    // HTTP itself strips blanks around a header value, so " 7" arrives as "7"; a sign or hex does not.
    expect((await sent("+7")).body.error?.message).toBe("headers.x-page: must be a decimal integer");
    expect((await sent("0x2")).body.error?.message).toBe("headers.x-page: must be a decimal integer");
    expect(await sent("7")).toEqual({ status: 200, body: { page: 7 } });
    expect((await sent("0")).body.error?.message).toBe("headers.x-page: must be >= 1");
  });

  it("passes decimals on to the schema, which still checks the range and fills defaults", async () => {
    expect(await get("/items/0?limit=100&name=%20")).toEqual({ status: 200, body: { id: 0, limit: 100, name: " " } });
    expect(await get("/items/12")).toEqual({ status: 200, body: { id: 12, limit: 20, name: undefined } });
    expect((await get("/items/1?limit=101")).body.error?.message).toBe("querystring.limit: must be <= 100");
    expect((await get("/items/-1")).body.error?.message).toBe("params.id: must be >= 0");
  });
});
