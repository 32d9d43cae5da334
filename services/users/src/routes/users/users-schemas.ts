import { ErrorBody, Type } from "@fundament/kit";
import { UserId, UserView } from "../user-schemas";

export const ListQuery = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
    offset: Type.Integer({ minimum: 0, maximum: 100_000, default: 0 }),
    email: Type.Optional(Type.String({ minLength: 1, maxLength: 254, description: "part of the email to match" })),
  },
  { additionalProperties: false },
);

// Colons allowed: other services scope their roles (the config service's writers hold config:write).
const Role = Type.String({ pattern: "^[a-z][a-z0-9:_-]{1,63}$", description: "lower-case name, e.g. admin, config:write" });
export const RolesBody = Type.Object({ roles: Type.Array(Role, { minItems: 1, maxItems: 16, uniqueItems: true }) }, { additionalProperties: false });

const adminErrors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody };

export const listSchema = {
  tags: ["admin"],
  summary: "List accounts (administrators)",
  security: [{ bearer: [] }],
  querystring: ListQuery,
  response: { 200: Type.Object({ items: Type.Array(UserView), total: Type.Integer(), limit: Type.Integer(), offset: Type.Integer() }), ...adminErrors },
};

export const disableSchema = {
  tags: ["admin"],
  summary: "Disable an account: its sessions end and user.disabled is published (administrators)",
  security: [{ bearer: [] }],
  params: UserId,
  response: { 200: UserView, ...adminErrors },
};

export const rolesSchema = {
  tags: ["admin"],
  summary: "Replace an account's roles (administrators)",
  security: [{ bearer: [] }],
  params: UserId,
  body: RolesBody,
  response: { 200: UserView, ...adminErrors },
};
