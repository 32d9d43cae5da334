import { BASE64_WHOLE } from "./credential-names";

/**
 * Credentials whose text says what they are: the issuers give their tokens a fixed prefix (or
 * shape) precisely so that scanners can find them wherever they leak, whatever the variable or
 * key they sit under is called. Each pattern is the issuer's documented form, anchored so that
 * it does not start inside a longer word, and long enough that prose and digests do not match.
 */
interface TokenFormat {
  readonly what: string;
  readonly pattern: RegExp;
}

// Not preceded by a letter, digit or the token alphabet's own punctuation: `xghp_...` is no token.
const START = "(?<![A-Za-z0-9_-])";

const TOKEN_FORMATS: readonly TokenFormat[] = [
  { what: "a GitHub token", pattern: new RegExp(`${START}(?:gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{60,})`) },
  { what: "a GitLab token", pattern: new RegExp(`${START}gl(?:pat|dt|rt|ptt|cbt|soat|ft|imt|agent)-[A-Za-z0-9_-]{20,}`) },
  { what: "a Slack token", pattern: new RegExp(`${START}xox[abposre]-[A-Za-z0-9-]{10,}`) },
  { what: "a Slack incoming webhook", pattern: /https:\/\/hooks\.slack\.com\/(?:services|workflows|triggers)\/[A-Za-z0-9]+\/[A-Za-z0-9]+\/[A-Za-z0-9]{16,}/ },
  { what: "an AWS access key id", pattern: new RegExp(`${START}(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Za-z0-9])`) },
  { what: "a Google API key", pattern: new RegExp(`${START}AIza[A-Za-z0-9_-]{35}(?![A-Za-z0-9_-])`) },
  { what: "a Google OAuth client secret", pattern: new RegExp(`${START}GOCSPX-[A-Za-z0-9_-]{28}`) },
  { what: "a Stripe secret key", pattern: new RegExp(`${START}(?:sk|rk)_live_[A-Za-z0-9]{20,}`) },
  { what: "an OpenAI API key", pattern: new RegExp(`${START}sk-(?:(?:proj|svcacct|admin)-[A-Za-z0-9_-]{20,}|[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20})`) },
  { what: "an Anthropic API key", pattern: new RegExp(`${START}sk-ant-[a-z]+[0-9]{2}-[A-Za-z0-9_-]{40,}`) },
  { what: "a Hugging Face token", pattern: new RegExp(`${START}hf_[A-Za-z]{34,}(?![A-Za-z0-9])`) },
  { what: "an npm token", pattern: new RegExp(`${START}npm_[A-Za-z0-9]{36}(?![A-Za-z0-9])`) },
  { what: "a PyPI token", pattern: new RegExp(`${START}pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,}`) },
  { what: "a Docker Hub access token", pattern: new RegExp(`${START}dckr_(?:pat|oat)_[A-Za-z0-9_-]{27,}`) },
  { what: "a SendGrid API key", pattern: new RegExp(`${START}SG\\.[A-Za-z0-9_-]{22}\\.[A-Za-z0-9_-]{43}`) },
  { what: "a HashiCorp Vault token", pattern: new RegExp(`${START}hv[sbr]\\.[A-Za-z0-9_-]{24,}`) },
  { what: "a Pulumi access token", pattern: new RegExp(`${START}pul-[a-f0-9]{40}(?![A-Za-z0-9])`) },
  { what: "a Grafana service account token", pattern: new RegExp(`${START}glsa_[A-Za-z0-9]{32}_[a-f0-9]{8}`) },
  { what: "a Databricks token", pattern: new RegExp(`${START}dapi[a-f0-9]{32}(?:-\\d)?(?![A-Za-z0-9])`) },
  { what: "an Azure storage account key", pattern: /AccountKey=[A-Za-z0-9+/]{86}==/ },
  { what: "an Azure shared access signature", pattern: /[?&;]sig=[A-Za-z0-9%+/]{40,}(?:%3D|=){0,2}/ },
  // A signed JWT (header and claims both JSON objects, so "eyJ"): a bearer credential until it expires.
  { what: "a signed JWT", pattern: new RegExp(`${START}eyJ[A-Za-z0-9_-]{10,}\\.eyJ[A-Za-z0-9_-]{10,}\\.[A-Za-z0-9_-]{20,}`) },
];

function plainTokenFormat(value: string): string | undefined {
  return TOKEN_FORMATS.find((format) => format.pattern.test(value))?.what;
}

/**
 * Which known token a value carries, if any: in plain text, or base64-wrapped as a whole (EC2
 * user data, a ConfigMap's binaryData, a `*_B64` variable). Never returns the token itself.
 */
export function knownTokenFormat(value: string): string | undefined {
  const plain = plainTokenFormat(value);
  if (plain || !BASE64_WHOLE.test(value) || value.length < 24) return plain;
  const decoded = Buffer.from(value.replace(/\s+/g, ""), "base64").toString("latin1");
  const found = plainTokenFormat(decoded);
  return found ? `${found} (base64-encoded)` : undefined;
}
