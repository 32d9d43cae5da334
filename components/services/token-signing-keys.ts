import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import type { TokenSigningConfig } from "../config";

/** The users service's key files: the key that signs, and the public keys it also accepts and publishes. */
export interface TokenSigningKeys {
  /** PKCS#8 PEM of the current generation (JWT_SIGNING_KEY_FILE). */
  signing: pulumi.Output<string>;
  /** The generation that signed before the last rotation, while it is accepted (JWT_PREVIOUS_PUBLIC_KEYS_FILE). */
  previousPublic?: pulumi.Output<string>;
  /** The generation the next rotation signs with, published ahead (JWT_NEXT_PUBLIC_KEYS_FILE). */
  nextPublic: pulumi.Output<string>;
}

/**
 * The resource name of a generation's key. The first keeps the name stacks made before rotation
 * existed gave their only key, so upgrading such a stack replaces nothing.
 */
export function signingKeyName(generation: number): string {
  return generation === 1 ? "users-jwt-signing-key" : `users-jwt-signing-key-g${generation}`;
}

/**
 * Up to three generations live at once: the previous one (accepted, so tokens signed before a
 * rotation stay good until they expire), the current one (signs), and the next one (published
 * only). Raising the generation then never shows a verifier a kid it has not already been given:
 * users replicas still on the old files accept the new signer as their "next" key, and the config
 * and gpu-jobs services find it in the JWKS they already hold. Each key is an ordinary resource
 * whose inputs never change, so a rotation creates one key and deletes one, and replaces none.
 */
export function tokenSigningKeys(config: TokenSigningConfig, opts: pulumi.CustomResourceOptions): TokenSigningKeys {
  const key = (generation: number) => new tls.PrivateKey(signingKeyName(generation), { algorithm: "ED25519" }, opts);
  const current = key(config.generation);
  const next = key(config.generation + 1);
  const previous = config.acceptPrevious && config.generation > 1 ? key(config.generation - 1) : undefined;
  return {
    signing: pulumi.secret(current.privateKeyPemPkcs8),
    nextPublic: next.publicKeyPem,
    ...(previous ? { previousPublic: previous.publicKeyPem } : {}),
  };
}
