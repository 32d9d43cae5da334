import { request as httpsRequest } from "node:https";
import { isIP } from "node:net";
import { EnvError } from "./env";
import { watchJwks, type JwksWatch } from "./jwks-watch";
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

/** A verifier that may hold a watch on the users service's JWKS: close() ends it. */
export interface JwksVerifier extends TokenVerifier {
  /** True while the watch runs (false without one, or once it ended). */
  readonly watching: boolean;
  close(): Promise<void>;
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
  /**
   * Seconds each JWKS watch poll asks the users service to hold (0 or absent: no watch). With a
   * watch, a key the users service retires stops verifying here at the next request after the
   * users service dropped it; cacheMaxAgeMs stays the bound while the watch is down. Each poll
   * waits at most half of cacheMaxAgeMs, so a healthy watch always holds a confirmed document.
   */
  watchSeconds?: number;
  /** Pause after a failed watch poll. Default 5 s. */
  watchRetryMs?: number;
  /** A failed watch poll, or a users service without the watch; the caller logs it. */
  onWatchProblem?: (message: string) => void;
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
          response.on("end", () => {
            const status = response.statusCode ?? 502;
            // The watch reads ETag; a 304 (and 204) may carry no body, or Response refuses it.
            const headers = Object.entries(response.headers).flatMap(([header, value]): [string, string][] =>
              value === undefined ? [] : (Array.isArray(value) ? value : [value]).map((one): [string, string] => [header, one]),
            );
            resolve(new Response(status === 304 || status === 204 ? null : Buffer.concat(chunks), { status, headers }));
          });
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
 * Verifies users-service JWTs against its JWKS. With `watchSeconds`, the document a long poll on
 * the JWKS last received decides (see watchJwks). Without one, or while the watch is down,
 * jose's remote set caches the keys and fetches again when a token names a kid it does not know
 * (the users service rotated its key), at most once per cooldown so a flood of forged kids cannot
 * hammer the users service.
 */
export async function createJwksVerifier(options: JwksVerifierOptions): Promise<JwksVerifier> {
  // jose is an ES module; a dynamic import keeps this CommonJS package loading it natively.
  const jose = await import("jose");
  const template = new URL(options.jwksUrl);
  if (options.ca !== undefined && template.protocol !== "https:") throw new EnvError([`JWKS_URL: a CA is given (JWKS_CA_FILE) but ${template.protocol}// is plain text; use https://`]);
  const customFetch = options.ca === undefined ? undefined : fetchVerifying(options.ca, template.hostname);
  const verifying = customFetch === undefined ? undefined : { [jose.customFetch]: customFetch };
  const maxAgeMs = options.cacheMaxAgeMs ?? 60_000;
  const sets = new Map<string, ReturnType<typeof jose.createRemoteJWKSet>>();
  const keysAt = (url: string) => {
    let set = sets.get(url);
    if (!set) {
      set = jose.createRemoteJWKSet(new URL(url), {
        cooldownDuration: options.cooldownMs ?? 30_000,
        // One small GET per minute and replica, so a retired key stops verifying within a minute.
        cacheMaxAge: maxAgeMs,
        timeoutDuration: options.timeoutMs ?? 5000,
        ...verifying,
      });
      sets.set(url, set);
    }
    return set;
  };
  const rolesClaim = options.rolesClaim ?? "roles";
  const resolveJwksUrl = options.resolveJwksUrl ?? (async () => options.jwksUrl);
  // The watch's document, as a key set jose can search; rebuilt only when the document changes.
  let watched: { jwks: unknown; keys: ReturnType<typeof jose.createLocalJWKSet> } | undefined;
  const watch: JwksWatch | undefined =
    options.watchSeconds === undefined || options.watchSeconds <= 0
      ? undefined
      : watchJwks({
          resolveUrl: resolveJwksUrl,
          // A poll held past the maximum age would leave its document unconfirmed for too long.
          waitSeconds: Math.max(1, Math.min(options.watchSeconds, Math.floor(maxAgeMs / 2000))),
          fetch: customFetch ?? ((url, init) => fetch(url, init)),
          onChange: (jwks) => {
            // Throws on a document that is no key set: the poll counts as failed and is made again.
            watched = { jwks, keys: jose.createLocalJWKSet(jwks as Parameters<typeof jose.createLocalJWKSet>[0]) };
            sets.clear();
          },
          retryMs: options.watchRetryMs ?? 5000,
          onProblem: options.onWatchProblem ?? (() => undefined),
        });
  /**
   * While the watch has confirmed its document within the maximum age, that document decides
   * alone: an unknown kid is refused, never looked up elsewhere, or a replica that has not
   * dropped a retired key yet could hand it back. Without a watch, jose's remote set per URL.
   */
  const keysFor = async () => {
    const seen = watch?.current();
    if (seen !== undefined && watched !== undefined && watched.jwks === seen.jwks && Date.now() - seen.confirmedAt <= maxAgeMs) return watched.keys;
    return keysAt(await resolveJwksUrl());
  };
  return {
    get watching() {
      return watch?.running ?? false;
    },
    async close() {
      await watch?.stop();
    },
    async verify(token) {
      try {
        const keys = await keysFor();
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
