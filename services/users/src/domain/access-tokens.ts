import { randomUUID } from "node:crypto";
import { ExpiringCache } from "./expiring-cache";
import { loadJose, type JWTHeaderParameters } from "./jose-module";
import { ACCESS_TOKEN_ALG, type TokenKeys } from "./token-keys";

export interface AccessTokenSettings {
  issuer: string;
  audience: string;
  ttlSeconds: number;
  /** Verified tokens remembered at most (default 50,000, about 30 MB): size it to the tokens alive at once. */
  verifiedCacheMaxEntries?: number;
}

export interface AccessClaims {
  userId: string;
  roles: string[];
}

/** Why a bearer token was refused; the code goes to the client, never the token itself. */
export class TokenRejected extends Error {
  constructor(
    readonly code: "TOKEN_INVALID" | "TOKEN_EXPIRED" | "TOKEN_UNKNOWN_KEY",
    message: string,
  ) {
    super(message);
    this.name = "TokenRejected";
  }
}

export class AccessTokens {
  private keys: TokenKeys;
  private byKid: Map<string, TokenKeys["verification"][number]>;
  /**
   * Clients send the same token for up to its lifetime: a token whose signature and claims
   * were checked is remembered (by its exact text, until its exp, with the kid that signed it),
   * so repeat requests skip the signature check. Any altered byte is another key and gets the
   * full verification; a remembered token counts only while its kid is still accepted.
   */
  private readonly verified: ExpiringCache<{ claims: AccessClaims; kid: string }>;

  constructor(
    keys: TokenKeys,
    readonly settings: AccessTokenSettings,
  ) {
    this.keys = keys;
    this.byKid = new Map(keys.verification.map((key) => [key.kid, key]));
    // Eviction is by insertion: with more live tokens than entries, clients that cycle through
    // them would miss every time and pay a signature check per request.
    this.verified = new ExpiringCache(settings.verifiedCacheMaxEntries ?? 50_000);
  }

  /** The keys now: the JWKS route publishes their public halves. */
  get currentKeys(): TokenKeys {
    return this.keys;
  }

  /**
   * Takes a new key set (a rotation): tokens are signed with its signing key from now on, and a
   * token signed by a key it no longer lists (a retired kid) is refused from the next request,
   * even one verified and remembered before.
   */
  replaceKeys(keys: TokenKeys): void {
    this.keys = keys;
    this.byKid = new Map(keys.verification.map((key) => [key.kid, key]));
  }

  async issue(claims: AccessClaims): Promise<string> {
    const { SignJWT } = await loadJose();
    return new SignJWT({ roles: claims.roles })
      .setProtectedHeader({ alg: ACCESS_TOKEN_ALG, kid: this.keys.signing.kid, typ: "at+jwt" })
      .setSubject(claims.userId)
      .setIssuer(this.settings.issuer)
      .setAudience(this.settings.audience)
      .setIssuedAt()
      .setExpirationTime(`${this.settings.ttlSeconds}s`)
      .setJti(randomUUID())
      .sign(this.keys.signing.key);
  }

  /** The claims of a token verified earlier, not yet expired and signed by a key still accepted, without any asynchronous work. */
  cached(token: string): AccessClaims | undefined {
    const known = this.verified.get(token);
    if (known === undefined) return undefined;
    if (!this.byKid.has(known.kid)) {
      this.verified.delete(token);
      return undefined;
    }
    return known.claims;
  }

  /** Only EdDSA, only known kids, issuer, audience and expiry checked; `alg: none` never passes. */
  async verify(token: string): Promise<AccessClaims> {
    const known = this.cached(token);
    if (known) return known;
    const { errors: joseErrors, jwtVerify } = await loadJose();
    let kid = "";
    try {
      const { payload } = await jwtVerify(
        token,
        (header: JWTHeaderParameters) => {
          const key = header.kid === undefined ? undefined : this.byKid.get(header.kid);
          if (!key) throw new TokenRejected("TOKEN_UNKNOWN_KEY", "token signed by an unknown key");
          kid = key.kid;
          return key.key;
        },
        { algorithms: [ACCESS_TOKEN_ALG], issuer: this.settings.issuer, audience: this.settings.audience, requiredClaims: ["sub", "exp", "iat"], typ: "at+jwt" },
      );
      const roles = payload.roles;
      if (typeof payload.sub !== "string" || !Array.isArray(roles) || !roles.every((r): r is string => typeof r === "string")) {
        throw new TokenRejected("TOKEN_INVALID", "token claims are malformed");
      }
      const claims = { userId: payload.sub, roles };
      this.verified.set(token, { claims, kid }, (payload.exp ?? 0) * 1000);
      return claims;
    } catch (error) {
      if (error instanceof TokenRejected) throw error;
      if (error instanceof joseErrors.JWTExpired) throw new TokenRejected("TOKEN_EXPIRED", "token expired");
      if (error instanceof joseErrors.JOSEError) throw new TokenRejected("TOKEN_INVALID", "token is not valid");
      throw error;
    }
  }
}
