import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { AccessTokens } from "../src/domain/access-tokens";
import { loadJose } from "../src/domain/jose-module";
import { jwks, loadTokenKeys } from "../src/domain/token-keys";

const pem = (type: "pkcs8" | "spki", key: ReturnType<typeof generateKeyPairSync>["privateKey"]) => key.export({ format: "pem", type }).toString();
const settings = { issuer: "fundament-users", audience: "fundament", ttlSeconds: 900 };

describe("signing key rotation", () => {
  it("keeps accepting and publishing a retired key while signing with the new one", async () => {
    const retired = generateKeyPairSync("ed25519");
    const current = generateKeyPairSync("ed25519");
    const before = new AccessTokens(await loadTokenKeys(pem("pkcs8", retired.privateKey)), settings);
    const issuedBefore = await before.issue({ userId: "u-1", roles: ["user"] });

    const keys = await loadTokenKeys(pem("pkcs8", current.privateKey), pem("spki", retired.publicKey));
    const after = new AccessTokens(keys, settings);
    expect(await after.verify(issuedBefore)).toEqual({ userId: "u-1", roles: ["user"] });

    const issuedAfter = await after.issue({ userId: "u-2", roles: ["admin"] });
    const { decodeProtectedHeader } = await loadJose();
    expect(decodeProtectedHeader(issuedAfter).kid).toBe(keys.signing.kid);
    expect(decodeProtectedHeader(issuedBefore).kid).not.toBe(keys.signing.kid);
    expect(jwks(keys).keys.map((key) => key.kid)).toEqual([keys.signing.kid, decodeProtectedHeader(issuedBefore).kid]);
    // The published document holds public halves only.
    expect(JSON.stringify(jwks(keys))).not.toMatch(/"d":/);
  });

  it("accepts and publishes the next key ahead of its first token, after the signing and retired keys", async () => {
    const retired = generateKeyPairSync("ed25519");
    const current = generateKeyPairSync("ed25519");
    const next = generateKeyPairSync("ed25519");
    const keys = await loadTokenKeys(pem("pkcs8", current.privateKey), pem("spki", retired.publicKey), pem("spki", next.publicKey));
    const tokens = new AccessTokens(keys, settings);
    const nextKeys = await loadTokenKeys(pem("pkcs8", next.privateKey), pem("spki", current.publicKey));
    const signedByNext = await new AccessTokens(nextKeys, settings).issue({ userId: "u-3", roles: ["user"] });
    // A replica still on these files accepts what a replica that has rotated signs.
    expect(await tokens.verify(signedByNext)).toEqual({ userId: "u-3", roles: ["user"] });
    expect(jwks(keys).keys.map((key) => key.kid)).toEqual([keys.signing.kid, keys.verification[1].kid, nextKeys.signing.kid]);
  });

  it("names the file whose public keys cannot be read", async () => {
    const current = pem("pkcs8", generateKeyPairSync("ed25519").privateKey);
    const ec = pem("spki", generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey);
    await expect(loadTokenKeys(current, "", "next key goes here")).rejects.toThrow("JWT_NEXT_PUBLIC_KEYS_FILE: holds no PEM block");
    await expect(loadTokenKeys(current, ec)).rejects.toThrow(/^JWT_PREVIOUS_PUBLIC_KEYS_FILE: key 1 is not an Ed25519 PEM public key \(signing keys must be Ed25519 \(got EC P-256\)\)/);
    await expect(loadTokenKeys(current, "", "-----BEGIN PUBLIC KEY-----\nnot base64\n-----END PUBLIC KEY-----")).rejects.toThrow(/^JWT_NEXT_PUBLIC_KEYS_FILE: key 1 is not/);
  });

  it("refuses a key that is not Ed25519, and text that is not a key", async () => {
    const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
    await expect(loadTokenKeys(pem("pkcs8", ec.privateKey))).rejects.toThrow("signing keys must be Ed25519 (got EC P-256)");
    await expect(loadTokenKeys("not a key")).rejects.toThrow(/^JWT_SIGNING_KEY_FILE: not a PEM private key/);
  });
});

describe("key retirement", () => {
  it("refuses, from the next request, a token verified and remembered before its kid was retired", async () => {
    const retiring = generateKeyPairSync("ed25519");
    const current = generateKeyPairSync("ed25519");
    const tokens = new AccessTokens(await loadTokenKeys(pem("pkcs8", retiring.privateKey)), settings);
    const old = await tokens.issue({ userId: "u-1", roles: ["user"] });
    // Rotated: the old key still verifies, and the token is remembered as verified.
    tokens.replaceKeys(await loadTokenKeys(pem("pkcs8", current.privateKey), pem("spki", retiring.publicKey)));
    expect(await tokens.verify(old)).toEqual({ userId: "u-1", roles: ["user"] });
    expect(tokens.cached(old)).toEqual({ userId: "u-1", roles: ["user"] });
    const fresh = await tokens.issue({ userId: "u-2", roles: ["user"] });
    await tokens.verify(fresh);

    // Retired: dropped from the accepted set.
    tokens.replaceKeys(await loadTokenKeys(pem("pkcs8", current.privateKey)));
    expect(tokens.cached(old)).toBeUndefined();
    await expect(tokens.verify(old)).rejects.toMatchObject({ code: "TOKEN_UNKNOWN_KEY" });
    // Tokens of the key still in use are untouched, cached or not.
    expect(tokens.cached(fresh)).toEqual({ userId: "u-2", roles: ["user"] });
    expect(jwks(tokens.currentKeys).keys).toHaveLength(1);
  });
});
