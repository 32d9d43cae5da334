import { createPrivateKey, createPublicKey, type KeyObject } from "node:crypto";
import { loadJose, type JWK } from "./jose-module";

export const ACCESS_TOKEN_ALG = "EdDSA";

/** The public JWK as the JWKS endpoint publishes it. */
export interface PublishedJwk {
  kty: "OKP";
  crv: "Ed25519";
  x: string;
  kid: string;
  alg: string;
  use: "sig";
}

export interface VerificationKey {
  kid: string;
  key: KeyObject;
  jwk: PublishedJwk;
}

export interface TokenKeys {
  signing: { kid: string; key: KeyObject };
  /** The signing key's public half first, then retired keys still accepted. */
  verification: VerificationKey[];
}

function publicJwk(key: KeyObject): JWK {
  const jwk = key.export({ format: "jwk" }) as JWK;
  if (jwk.kty !== "OKP" || jwk.crv !== "Ed25519") throw new Error(`signing keys must be Ed25519 (got ${jwk.kty}${jwk.crv ? ` ${jwk.crv}` : ""})`);
  return { kty: jwk.kty, crv: jwk.crv, x: jwk.x };
}

async function verificationKey(key: KeyObject): Promise<VerificationKey> {
  const jwk = publicJwk(key);
  // The RFC 7638 thumbprint as kid: stable for a key, no separate configuration to get wrong.
  const { calculateJwkThumbprint } = await loadJose();
  const kid = await calculateJwkThumbprint(jwk, "sha256");
  return { kid, key, jwk: { kty: "OKP", crv: "Ed25519", x: jwk.x!, kid, alg: ACCESS_TOKEN_ALG, use: "sig" } };
}

function pemBlocks(pem: string): string[] {
  return pem.match(/-----BEGIN [A-Z ]+-----[\s\S]+?-----END [A-Z ]+-----/g) ?? [];
}

/** Reads the signing key (PKCS#8 PEM) and optional retired public keys (PEM blocks, concatenated). */
export async function loadTokenKeys(signingPem: string, previousPublicPems = ""): Promise<TokenKeys> {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(signingPem);
  } catch (error) {
    throw new Error(`JWT_SIGNING_KEY_FILE: not a PEM private key (${(error as Error).message})`);
  }
  const current = await verificationKey(createPublicKey(privateKey));
  const previous = await Promise.all(pemBlocks(previousPublicPems).map((block) => verificationKey(createPublicKey(block))));
  return {
    signing: { kid: current.kid, key: privateKey },
    verification: [current, ...previous.filter((key) => key.kid !== current.kid)],
  };
}

export function jwks(keys: TokenKeys): { keys: PublishedJwk[] } {
  return { keys: keys.verification.map((key) => key.jwk) };
}
