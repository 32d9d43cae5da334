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
  /** The signing key's public half first, then the retired and next keys also accepted. */
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

/** The public keys of one file, each failure named by the file's variable. */
async function publicKeys(pems: string, variable: string): Promise<VerificationKey[]> {
  const blocks = pemBlocks(pems);
  // An empty file accepts nothing more; text without a key is a mistake to report, not to ignore.
  if (blocks.length === 0 && pems.trim() !== "") throw new Error(`${variable}: holds no PEM block (-----BEGIN PUBLIC KEY-----)`);
  return Promise.all(
    blocks.map(async (block, index) => {
      try {
        return await verificationKey(createPublicKey(block));
      } catch (error) {
        throw new Error(`${variable}: key ${index + 1} is not an Ed25519 PEM public key (${(error as Error).message})`);
      }
    }),
  );
}

/**
 * Reads the signing key (PKCS#8 PEM) and the public keys also accepted (PEM blocks,
 * concatenated): retired ones, whose tokens may still be live, and the next rotation's, published
 * before they sign so that no replica or verifier meets their kid unannounced.
 */
export async function loadTokenKeys(signingPem: string, previousPublicPems = "", nextPublicPems = ""): Promise<TokenKeys> {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(signingPem);
  } catch (error) {
    throw new Error(`JWT_SIGNING_KEY_FILE: not a PEM private key (${(error as Error).message})`);
  }
  const current = await verificationKey(createPublicKey(privateKey));
  const accepted = [...(await publicKeys(previousPublicPems, "JWT_PREVIOUS_PUBLIC_KEYS_FILE")), ...(await publicKeys(nextPublicPems, "JWT_NEXT_PUBLIC_KEYS_FILE"))];
  const verification = [current];
  for (const key of accepted) if (!verification.some((known) => known.kid === key.kid)) verification.push(key);
  return { signing: { kid: current.kid, key: privateKey }, verification };
}

export function jwks(keys: TokenKeys): { keys: PublishedJwk[] } {
  return { keys: keys.verification.map((key) => key.jwk) };
}
