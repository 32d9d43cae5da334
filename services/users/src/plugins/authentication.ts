import { httpErrors, type ServiceApp } from "@fundament/kit";
import type { FastifyReply, FastifyRequest } from "fastify";
import { TokenRejected, type AccessClaims, type AccessTokens } from "../domain/access-tokens";
import type { Accounts } from "../domain/accounts";
import type { UserRecord } from "../domain/user-records";

declare module "fastify" {
  interface FastifyRequest {
    /** The verified access token's claims; set by `authenticate`. */
    principal: AccessClaims | null;
  }
}

export type PreHandler = (request: FastifyRequest, reply: FastifyReply) => Promise<void>;

export interface Guards {
  /** A valid access token is required. */
  authenticate: PreHandler;
  /** A valid token of a user who is an administrator now (not only when the token was issued). */
  requireAdmin: PreHandler;
  currentUser(request: FastifyRequest): Promise<UserRecord>;
}

const BEARER = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*)$/;

export function installAuthentication(app: ServiceApp, tokens: AccessTokens, accounts: Accounts): Guards {
  app.decorateRequest("principal", null);

  const authenticate: PreHandler = async (request) => {
    const header = request.headers.authorization;
    if (header === undefined) throw httpErrors.unauthorized("headers.authorization: a Bearer access token is required", "TOKEN_MISSING");
    const match = BEARER.exec(header);
    if (!match) throw httpErrors.unauthorized("headers.authorization: must be 'Bearer <jwt>'", "TOKEN_INVALID");
    try {
      request.principal = await tokens.verify(match[1]!);
    } catch (error) {
      if (error instanceof TokenRejected) throw httpErrors.unauthorized(`headers.authorization: ${error.message}`, error.code);
      throw error;
    }
  };

  const currentUser = async (request: FastifyRequest): Promise<UserRecord> => {
    if (!request.principal) throw httpErrors.unauthorized();
    return accounts.activeUser(request.principal.userId);
  };

  const requireAdmin: PreHandler = async (request, reply) => {
    await authenticate(request, reply);
    const user = await currentUser(request);
    if (!user.roles.includes("admin")) throw httpErrors.forbidden("administrators only", "ADMIN_REQUIRED");
  };

  return { authenticate, requireAdmin, currentUser };
}
