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
/** Callback style, so a request whose token was verified before costs no promise at all. */
export type CallbackPreHandler = (request: FastifyRequest, reply: FastifyReply, done: (error?: Error) => void) => void;

export interface Guards {
  /** A valid access token is required. */
  authenticate: CallbackPreHandler;
  /** A valid token of a user who is an administrator now (not only when the token was issued). */
  requireAdmin: PreHandler;
  currentUser(request: FastifyRequest): Promise<UserRecord>;
}

const BEARER = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*)$/;

export function installAuthentication(app: ServiceApp, tokens: AccessTokens, accounts: Accounts): Guards {
  app.decorateRequest("principal", null);

  const bearerToken = (request: FastifyRequest): string => {
    const header = request.headers.authorization;
    if (header === undefined) throw httpErrors.unauthorized("headers.authorization: a Bearer access token is required", "TOKEN_MISSING");
    const match = BEARER.exec(header);
    if (!match) throw httpErrors.unauthorized("headers.authorization: must be 'Bearer <jwt>'", "TOKEN_INVALID");
    return match[1]!;
  };
  const rejected = (error: unknown): Error =>
    error instanceof TokenRejected ? httpErrors.unauthorized(`headers.authorization: ${error.message}`, error.code) : (error as Error);

  const authenticate: CallbackPreHandler = (request, _reply, done) => {
    let token: string;
    try {
      token = bearerToken(request);
    } catch (error) {
      done(error as Error);
      return;
    }
    const known = tokens.cached(token);
    if (known) {
      request.principal = known;
      done();
      return;
    }
    tokens.verify(token).then(
      (claims) => {
        request.principal = claims;
        done();
      },
      (error: unknown) => done(rejected(error)),
    );
  };

  const authenticateAsync = async (request: FastifyRequest): Promise<void> => {
    const token = bearerToken(request);
    try {
      request.principal = await tokens.verify(token);
    } catch (error) {
      throw rejected(error);
    }
  };

  const currentUser = async (request: FastifyRequest): Promise<UserRecord> => {
    if (!request.principal) throw httpErrors.unauthorized();
    return accounts.cachedActiveUser(request.principal.userId) ?? accounts.activeUser(request.principal.userId);
  };

  const requireAdmin: PreHandler = async (request) => {
    await authenticateAsync(request);
    const user = await currentUser(request);
    if (!user.roles.includes("admin")) throw httpErrors.forbidden("administrators only", "ADMIN_REQUIRED");
  };

  return { authenticate, requireAdmin, currentUser };
}
