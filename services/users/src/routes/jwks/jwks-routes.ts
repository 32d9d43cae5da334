import { clientGone, ErrorBody, requestedWait, Type, WaitParameter, type ServiceApp } from "@fundament/kit";
import { etagMatches, jwksEtag, type KeySetChanges } from "../../domain/key-set-changes";
import { jwks, type TokenKeys } from "../../domain/token-keys";

const Jwks = Type.Object({
  keys: Type.Array(Type.Object({ kty: Type.String(), crv: Type.String(), x: Type.String(), kid: Type.String(), alg: Type.String(), use: Type.String() })),
});

const JwksQuery = Type.Object({ wait: WaitParameter }, { additionalProperties: false });

/** Longest a JWKS watch is held: under the 60 s idle timeout load balancers commonly have (AWS ALB's default). */
export const JWKS_MAX_WAIT_MS = 55_000;

/**
 * `keys` is read per request: after a rotation the document lists the new set. A GET with
 * If-None-Match naming the current tag gets 304; with `wait` as well it is held until the key set
 * changes (200, the new document) or the wait ends (304): the verifiers of config and gpu-jobs
 * keep one such watch each, and drop a retired key as soon as this replica does.
 */
export function jwksRoutes(app: ServiceApp, keys: () => TokenKeys, changes: KeySetChanges): void {
  app.get(
    "/.well-known/jwks.json",
    {
      schema: {
        tags: ["auth"],
        summary: "Public keys that verify access tokens (EdDSA, by kid); a watch with If-None-Match and wait",
        querystring: JwksQuery,
        response: { 200: Jwks, 304: Type.Null({ description: "the key set is still the one If-None-Match names" }), 400: ErrorBody },
      },
    },
    async (request, reply) => {
      const waitMs = request.query.wait === undefined ? 0 : requestedWait(request.query.wait, { defaultWaitMs: 0, maxWaitMs: JWKS_MAX_WAIT_MS });
      const known = request.headers["if-none-match"];
      if (waitMs > 0 && etagMatches(known, jwksEtag(keys()))) await changes.wait(waitMs, clientGone(reply.raw));
      const current = keys();
      const etag = jwksEtag(current);
      // A retired key must leave every copy at its next fetch; the tag keeps that fetch small.
      reply.header("etag", etag).header("cache-control", "no-cache");
      if (etagMatches(known, etag)) return reply.code(304).send(null);
      return jwks(current);
    },
  );
}
