import type { FastifyReply, FastifyRequest } from "fastify";
import { HttpError, httpErrors } from "./errors";
import { type Principal, TokenRejectedError, type TokenVerifier } from "./token-verifier";

/** Kept beside the request rather than declared on it: other services in the tree augment FastifyRequest too. */
const principals = new WeakMap<FastifyRequest, Principal>();

/** The caller a write is attributed to (its `sub`); set by requireRole. */
export function actorOf(request: FastifyRequest): string {
  const principal = principals.get(request);
  if (!principal) throw new Error("actorOf called on a route without requireRole");
  return principal.subject;
}

/** The verified caller (subject and roles); set by requireRole. */
export function principalOf(request: FastifyRequest): Principal {
  const principal = principals.get(request);
  if (!principal) throw new Error("principalOf called on a route without requireRole");
  return principal;
}

const BEARER = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/;

/** A preHandler that admits only callers whose users-service token carries one of `roles`. */
export function requireRole(verifier: TokenVerifier, roles: string[], purpose: string) {
  const needed = roles.length === 1 ? `role ${roles[0]} is` : `one of the roles ${roles.join(", ")} is`;
  return async function authorize(request: FastifyRequest, _reply: FastifyReply): Promise<void> {
    const header = request.headers.authorization;
    if (header === undefined || header === "") throw httpErrors.unauthorized("headers.authorization: a Bearer token is required");
    const match = BEARER.exec(header);
    if (!match) throw httpErrors.unauthorized("headers.authorization: must be `Bearer <JWT>`", "INVALID_TOKEN");
    let principal: Principal;
    try {
      principal = await verifier.verify(match[1] as string);
    } catch (error) {
      if (error instanceof TokenRejectedError) throw httpErrors.unauthorized(`headers.authorization: ${error.message}`, "INVALID_TOKEN");
      request.log.warn({ err: error }, "token verification unavailable");
      throw new HttpError(503, "AUTH_UNAVAILABLE", "headers.authorization: the users service's keys cannot be fetched right now");
    }
    if (!roles.some((role) => principal.roles.includes(role))) {
      throw httpErrors.forbidden(`headers.authorization: ${needed} required to ${purpose}`, "ROLE_REQUIRED");
    }
    principals.set(request, principal);
  };
}
