import { createServer, type RequestListener, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import type { JWK, JWTPayload, CryptoKey } from "jose" with { "resolution-mode": "import" };

interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

/** Stands in for the users service's JWKS endpoint: a test key pair, rotatable, counting fetches. */
export interface JwksServer {
  readonly url: string;
  readonly fetches: number;
  /** A token signed with the current key (or a given one); `roles` lands in the `roles` claim. */
  sign(claims: JWTPayload & { roles?: string[] }, options?: { key?: SigningKey; expiresIn?: string }): Promise<string>;
  /** Publishes a new key beside the old one and signs with it from now on. */
  rotate(): Promise<SigningKey>;
  /** Stops publishing a key (the users service retired it, say after a leak). */
  retire(kid: string): void;
  /** A key the server never publishes: its tokens must be refused. */
  strayKey(): Promise<SigningKey>;
  close(): Promise<void>;
}

/**
 * `tls`: serve HTTPS with this leaf, as the users service does on the stacks; `host` is then the
 * name the URL carries (one the leaf names), dialled at the loopback address by the caller.
 */
export async function startJwksServer(options: { issuer: string; audience: string; tls?: { cert: string; key: string; host?: string } }): Promise<JwksServer> {
  const jose = await import("jose");
  let counter = 0;
  const newKey = async (): Promise<SigningKey> => {
    const { privateKey, publicKey } = await jose.generateKeyPair("RS256");
    const kid = `test-key-${(counter += 1)}`;
    return { kid, privateKey, publicJwk: { ...(await jose.exportJWK(publicKey)), kid, alg: "RS256", use: "sig" } };
  };
  const published: SigningKey[] = [await newKey()];
  let fetches = 0;
  const handle: RequestListener = (request, response) => {
    // Query parameters (a watch's wait) are ignored, as by a users service without the watch.
    if (request.url?.split("?")[0] !== "/.well-known/jwks.json") return void response.writeHead(404).end();
    fetches += 1;
    response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: published.map((key) => key.publicJwk) }));
  };
  const server: Server = options.tls ? createHttpsServer({ cert: options.tls.cert, key: options.tls.key }, handle) : createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: options.tls ? `https://${options.tls.host ?? "127.0.0.1"}:${port}/.well-known/jwks.json` : `http://127.0.0.1:${port}/.well-known/jwks.json`,
    get fetches() {
      return fetches;
    },
    async sign(claims, signOptions = {}) {
      const key = signOptions.key ?? (published[published.length - 1] as SigningKey);
      return new jose.SignJWT(claims)
        .setProtectedHeader({ alg: "RS256", kid: key.kid, typ: "at+jwt" })
        .setIssuer(options.issuer)
        .setAudience(options.audience)
        .setIssuedAt()
        .setExpirationTime(signOptions.expiresIn ?? "5m")
        .sign(key.privateKey);
    },
    async rotate() {
      const key = await newKey();
      published.push(key);
      return key;
    },
    retire(kid) {
      const index = published.findIndex((key) => key.kid === kid);
      if (index >= 0) published.splice(index, 1);
    },
    strayKey: newKey,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
