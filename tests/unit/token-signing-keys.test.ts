// Rotating the users service's signing key through stack config, as `pulumi up` after `pulumi up`:
// the mock tls provider keeps each key between runs by name, as the engine's state does, and the
// files the program delivers are loaded by the users service's own key code, so what is checked
// is whether real tokens verify across a rotation.
import { beforeAll, describe, expect, it } from "vitest";
import { readStackConfig } from "../../scripts/mock-engine";
import { AccessTokens } from "../../services/users/src/domain/access-tokens";
import { loadJose } from "../../services/users/src/domain/jose-module";
import { jwks, loadTokenKeys } from "../../services/users/src/domain/token-keys";
import { runStack, type StackView } from "./stack-run";

const CONTAINER = "docker:index/container:Container";
const PRIVATE_KEY = "tls:index/privateKey:PrivateKey";
const SECRETS = "/run/secrets";
const SETTINGS = { issuer: "fundament-users", audience: "fundament", ttlSeconds: 900 };

interface Upload {
  file: string;
  content?: string;
}

/** What one `pulumi up` leaves the users service: its key files, its key variables, and the key resources in the stack. */
interface Deployed {
  files: Record<string, string>;
  variables: string[];
  keyResources: string[];
  tokens: AccessTokens;
  publishedKids: string[];
}

const state = new Map<string, Record<string, unknown>>();

async function up(tokenSigning: Record<string, unknown>): Promise<Deployed> {
  const config = { ...readStackConfig("dev"), "fundament:tokenSigning": JSON.stringify(tokenSigning) };
  const run: StackView = await runStack("dev", config, { tlsClock: { issuedAt: new Date("2026-12-01T00:00:00Z"), keys: state } });
  const carrier = run.revealed(run.one(CONTAINER, "users-files"));
  const files = Object.fromEntries(
    (carrier.uploads as Upload[]).filter((upload) => upload.file.startsWith(`${SECRETS}/jwt-`)).map((upload) => [upload.file.slice(SECRETS.length + 1), upload.content ?? ""]),
  );
  const variables = (run.revealed(run.one(CONTAINER, "users")).envs as string[]).map((entry) => entry.split("=")[0]).filter((name) => name.startsWith("JWT_") && name.endsWith("_FILE"));
  const keys = await loadTokenKeys(files["jwt-signing-key"], files["jwt-previous-public-keys"] ?? "", files["jwt-next-public-keys"] ?? "");
  return {
    files,
    variables: variables.sort(),
    keyResources: run.all(PRIVATE_KEY).map((key) => key.name).filter((name) => name.startsWith("users-jwt-")).sort(),
    tokens: new AccessTokens(keys, SETTINGS),
    publishedKids: jwks(keys).keys.map((key) => key.kid),
  };
}

async function kidOf(token: string): Promise<string | undefined> {
  const { decodeProtectedHeader } = await loadJose();
  return decodeProtectedHeader(token).kid;
}

const claims = { userId: "7d1c2a44-2a5e-4f8e-9f60-0d6f3c1b2a10", roles: ["user"] };

describe("users token signing keys across rotations", () => {
  let first: Deployed;
  let second: Deployed;
  let emergency: Deployed;
  beforeAll(async () => {
    first = await up({});
    second = await up({ generation: 2 });
    emergency = await up({ generation: 3, acceptPrevious: false });
  }, 120_000);

  it("keeps the one key a stack made before rotation existed, under its old name, and publishes the next one", () => {
    expect(first.keyResources).toEqual(["users-jwt-signing-key", "users-jwt-signing-key-g2"]);
    expect(Object.keys(first.files).sort()).toEqual(["jwt-next-public-keys", "jwt-signing-key"]);
    expect(first.variables).toEqual(["JWT_NEXT_PUBLIC_KEYS_FILE", "JWT_SIGNING_KEY_FILE"]);
    expect(first.files["jwt-next-public-keys"]).toMatch(/^-----BEGIN PUBLIC KEY-----/);
  });

  it("signs after a rotation with the key every replica was already given, so old and new replicas accept each other's tokens", async () => {
    const before = await first.tokens.issue(claims);
    const after = await second.tokens.issue(claims);
    // The rotation's signer was published a whole generation ahead: a verifier holding the old JWKS knows it.
    expect(first.publishedKids).toContain(await kidOf(after));
    expect(await first.tokens.verify(after)).toEqual(claims);
    expect(await second.tokens.verify(before)).toEqual(claims);
    expect(second.keyResources).toEqual(["users-jwt-signing-key", "users-jwt-signing-key-g2", "users-jwt-signing-key-g3"]);
    expect(second.variables).toEqual(["JWT_NEXT_PUBLIC_KEYS_FILE", "JWT_PREVIOUS_PUBLIC_KEYS_FILE", "JWT_SIGNING_KEY_FILE"]);
  });

  it("retires a leaked key at once when the rotation says so: its tokens are refused and it leaves the stack", async () => {
    const leaked = await second.tokens.issue(claims);
    const fresh = await emergency.tokens.issue(claims);
    await expect(emergency.tokens.verify(leaked)).rejects.toThrow();
    expect(emergency.publishedKids).not.toContain(await kidOf(leaked));
    expect(await emergency.tokens.verify(fresh)).toEqual(claims);
    // The replicas still running the second deployment knew this signer as their next key.
    expect(await second.tokens.verify(fresh)).toEqual(claims);
    expect(emergency.keyResources).toEqual(["users-jwt-signing-key-g3", "users-jwt-signing-key-g4"]);
    expect(emergency.variables).toEqual(["JWT_NEXT_PUBLIC_KEYS_FILE", "JWT_SIGNING_KEY_FILE"]);
  });

  it("never hands the users service a private key other than the one that signs", () => {
    for (const deployed of [first, second, emergency]) {
      const privateFiles = Object.entries(deployed.files).filter(([, content]) => content.includes("PRIVATE KEY"));
      expect(privateFiles.map(([name]) => name)).toEqual(["jwt-signing-key"]);
    }
  });
});
