import { Type, type ServiceApp } from "@fundament/kit";
import { jwks, type TokenKeys } from "../../domain/token-keys";

const Jwks = Type.Object({
  keys: Type.Array(Type.Object({ kty: Type.String(), crv: Type.String(), x: Type.String(), kid: Type.String(), alg: Type.String(), use: Type.String() })),
});

/** `keys` is read per request: after a rotation the document lists the new set. */
export function jwksRoutes(app: ServiceApp, keys: () => TokenKeys): void {
  app.get(
    "/.well-known/jwks.json",
    { schema: { tags: ["auth"], summary: "Public keys that verify access tokens (EdDSA, by kid)", response: { 200: Jwks } } },
    async (_request, reply) => {
      // Verifiers cache it; a rotated key is published here before it signs anything.
      reply.header("cache-control", "public, max-age=300");
      return jwks(keys());
    },
  );
}
