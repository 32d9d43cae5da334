import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import { MockCallArgs, MockResourceArgs } from "@pulumi/pulumi/runtime/mocks";

/** What the mock engine saw while a component test built its component. */
export interface ComponentMocks {
  registered: { type: string; name: string }[];
  /** Every password and key body the mocks generated: none may show up in plain text. */
  generatedSecrets: Set<string>;
}

/** A value derived from `seed` alone, so a rerun generates the same passwords and keys. */
export function generated(seed: string, length: number): string {
  return createHash("sha256").update(seed).digest("base64url").replace(/[-_]/g, "x").padEnd(length, "Q").slice(0, length);
}

/**
 * Sets the Pulumi mocks the component tests share: random and tls resources get deterministic
 * values (what the component reads back from them), and an invoke nobody expects fails the test.
 */
export async function mockComponentEngine(): Promise<ComponentMocks> {
  const mocks: ComponentMocks = { registered: [], generatedSecrets: new Set<string>() };
  await pulumi.runtime.setMocks(
    {
      newResource(args: MockResourceArgs) {
        mocks.registered.push({ type: args.type, name: args.name });
        const state: Record<string, unknown> = { ...args.inputs };
        const digest = createHash("sha256").update(`${args.type}:${args.name}`).digest();
        switch (args.type) {
          case "random:index/randomPassword:RandomPassword":
            state.result = generated(`password:${args.name}`, Number(args.inputs.length));
            mocks.generatedSecrets.add(state.result as string);
            break;
          case "random:index/randomBytes:RandomBytes":
            state.base64 = digest.subarray(0, Number(args.inputs.length)).toString("base64");
            break;
          case "random:index/randomId:RandomId":
            state.b64Std = digest.subarray(0, Number(args.inputs.byteLength)).toString("base64");
            break;
          case "tls:index/privateKey:PrivateKey": {
            const body = generated(`key:${args.name}`, 64);
            mocks.generatedSecrets.add(body);
            state.privateKeyPem = `-----BEGIN RSA PRIVATE KEY-----\n${body}\n-----END RSA PRIVATE KEY-----\n`;
            break;
          }
          case "tls:index/selfSignedCert:SelfSignedCert":
          case "tls:index/locallySignedCert:LocallySignedCert":
            state.certPem = `-----BEGIN CERTIFICATE-----\n${generated(`cert:${args.name}`, 64)}\n-----END CERTIFICATE-----\n`;
            break;
          case "tls:index/certRequest:CertRequest":
            state.certRequestPem = `-----BEGIN CERTIFICATE REQUEST-----\n${generated(`csr:${args.name}`, 64)}\n-----END CERTIFICATE REQUEST-----\n`;
            break;
        }
        return { id: `${args.name}-id`, state };
      },
      call(args: MockCallArgs) {
        throw new Error(`Mock not implemented: ${args.token}`);
      },
    },
    "fundament",
    "unit",
    false,
  );
  return mocks;
}
