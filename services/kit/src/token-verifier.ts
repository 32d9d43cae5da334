import { request as httpsRequest } from "node:https";
import { isIP } from "node:net";
import { EnvError } from "./env";
import type { JWTPayload } from "jose" with { "resolution-mode": "import" };

/** Who made a request, as the users service vouched for it. */
export interface Principal {
  subject: string;
  roles: string[];
}

export interface TokenVerifier {
  /** Resolves the token's principal; rejects with a reason safe to show when it is not acceptable. */
  verify(token: string): Promise<Principal>;
}

export interface JwksVerifierOptions {
  /** The users service's JWKS document. */
  jwksUrl: string;
  /**
   * Where the document is now (discovery: one of the users service's passing instances); each
   * URL keeps its own key cache. Defaults to `jwksUrl`.
   */
  resolveJwksUrl?: () => Promise<string>;
  issuer?: string;
  audience?: string;
  /** Claim holding the role list (an array of strings, or one space-separated string). */
  rolesClaim?: string;
  /** Minimum time between two JWKS fetches triggered by an unknown `kid`. */
  cooldownMs?: number;
  /**
   * Age after which the cached JWKS is fetched again even when every kid is known: the longest a
   * key the users service retired (a leaked one) still verifies here. Default 60 s.
   */
  cacheMaxAgeMs?: number;
  timeoutMs?: number;
  algorithms?: string[];
  /** Required `typ` header; the users service marks access tokens `at+jwt` (RFC 9068). */
  type?: string;
  /**
   * The CA (PEM) an https JWKS URL is verified against: the platform CA, whose leaf the users
   * service serves. Every fetch then checks the certificate against `jwksUrl`'s host name, also
   * when discovery hands out an address. Without it, Node's default roots.
   */
  ca?: string;
}

const UNAVAILABLE_CODES = new Set(["ERR_JWKS_TIMEOUT", "ERR_JOSE_GENERIC", "ERR_JWKS_INVALID"]);

export class TokenRejectedError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = "TokenRejectedError";
  }
}

/** A fetch for jose that verifies against `ca` and checks `servername`, whatever address the URL holds. */
export function fetchVerifying(ca: string, name: string): (url: string, init: { method?: string; headers?: ConstructorParameters<typeof Headers>[0]; signal?: AbortSignal | null }) => Promise<Response> {
  // An address is checked as itself (it cannot travel as SNI); a DNS name is checked whatever address is dialled.
  const servername = isIP(name) === 0 ? { servername: name } : {};
  return (url, init) =>
    new Promise<Response>((resolve, reject) => {
      const target = new URL(url);
      if (target.protocol !== "https:") return reject(new Error(`${url}: the JWKS is fetched over https only once a CA is given`));
      const request = httpsRequest(
        target,
        { method: init.method ?? "GET", headers: Object.fromEntries(new Headers(init.headers ?? {})), ca, ...servername, ...(init.signal ? { signal: init.signal } : {}) },
        (response) => {
          const chunks: Buffer[] = [];
          response.on("data", (chunk: Buffer) => chunks.push(chunk));
          response.on("error", reject);
          response.on("end", () => resolve(new Response(Buffer.concat(chunks), { status: response.statusCode ?? 502 })));
        },
      );
      // jose reports its own timeout (AbortSignal.timeout) as JWKSTimeout by the reason's name.
      request.on("error", (error) => reject(init.signal?.aborted ? (init.signal.reason as Error) : error));
      request.end();
    });
}

export function rolesOf(payload: JWTPayload, claim: string): string[] {
  const value = payload[claim];
  if (Array.isArray(value)) return value.filter((role): role is string => typeof role === "string");
  if (typeof value === "string") return value.split(" ").filter((role) => role !== "");
  return [];
}

/**
 * Verifies users-service JWTs against its JWKS. jose's remote set caches the keys and fetches
 * again when a token names a kid it does not know (the users service rotated its key), at most
 * once per cooldown so a flood of forged kids cannot hammer the users service.
 */
export async function createJwksVerifier(options: JwksVerifierOptions): Promise<TokenVerifier> {
  // jose is an ES module; a dynamic import keeps this CommonJS package loading it natively.
  const jose = await import("jose");
  const template = new URL(options.jwksUrl);
  if (options.ca !== undefined && template.protocol !== "https:") throw new EnvError([`JWKS_URL: a CA is given (JWKS_CA_FILE) but ${template.protocol}// is plain text; use https://`]);
  const verifying = options.ca === undefined ? undefined : { [jose.customFetch]: fetchVerifying(options.ca, template.hostname) };
  const sets = new Map<string, ReturnType<typeof jose.createRemoteJWKSet>>();
  const keysAt = (url: string) => {
    let set = sets.get(url);
    if (!set) {
      set = jose.createRemoteJWKSet(new URL(url), {
        cooldownDuration: options.cooldownMs ?? 30_000,
        // One small GET per minute and replica, so a retired key stops verifying within a minute.
        cacheMaxAge: options.cacheMaxAgeMs ?? 60_000,
        timeoutDuration: options.timeoutMs ?? 5000,
        ...verifying,
      });
      sets.set(url, set);
    }
    return set;
  };
  const rolesClaim = options.rolesClaim ?? "roles";
  return {
    async verify(token) {
      try {
        const keys = keysAt(options.resolveJwksUrl ? await options.resolveJwksUrl() : options.jwksUrl);
        const { payload } = await jose.jwtVerify(token, keys, {
          ...(options.issuer ? { issuer: options.issuer } : {}),
          ...(options.audience ? { audience: options.audience } : {}),
          algorithms: options.algorithms ?? ["EdDSA", "ES256", "RS256", "PS256"],
          typ: options.type ?? "at+jwt",
          requiredClaims: ["sub", "exp"],
        });
        if (typeof payload.sub !== "string" || payload.sub === "") throw new TokenRejectedError("token has no subject");
        return { subject: payload.sub, roles: rolesOf(payload, rolesClaim) };
      } catch (error) {
        if (error instanceof TokenRejectedError) throw error;
        const code = (error as { code?: string }).code;
        // The key set could not be had: the caller's token may be fine, so this is not a 401.
        if (!(error instanceof jose.errors.JOSEError) || UNAVAILABLE_CODES.has(code ?? "")) throw error;
        throw new TokenRejectedError(code === "ERR_JWT_EXPIRED" ? "token expired" : (error as Error).message);
      }
    },
  };
}
