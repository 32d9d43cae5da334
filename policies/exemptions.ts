import type { PolicyConfigJSONSchema } from "@pulumi/policy/schema";
import { parseImageReference } from "./model/image-reference";

/**
 * A resource a policy does not judge, and why. `name` and `urn` are glob patterns (`*` any run
 * of characters, `?` one character); when both are given both must match.
 */
export interface ResourceExemption {
  name?: string;
  urn?: string;
  reason: string;
}

/** An image a rule accepts anyway (the root-user rule: images whose entrypoint drops root itself). */
export interface ImageExemption {
  image: string;
  reason: string;
}

/**
 * A per-host agent's image that may mount these host paths, read-only only (no-host-path-volume):
 * the exception is the image, the exact paths and the mode together, never a workload or rule.
 */
export interface HostReader {
  image: string;
  paths: string[];
  reason: string;
}

export interface RuleConfig {
  exemptions?: ResourceExemption[];
  imageExemptions?: ImageExemption[];
  hostReaders?: HostReader[];
  /** Images that may mount the Docker socket read-only besides the gateway (docker-socket-read-only-gateway). */
  socketReaders?: ImageExemption[];
}

export const HOST_READERS_SCHEMA: PolicyConfigJSONSchema = {
  type: "array",
  description: "Images that may mount the named host paths read-only: [{ image glob pattern, paths (exact host paths), reason }].",
  default: [],
  items: {
    type: "object",
    additionalProperties: false,
    required: ["image", "paths", "reason"],
    properties: {
      image: { type: "string", minLength: 1 },
      paths: { type: "array", minItems: 1, items: { type: "string", minLength: 1 } },
      reason: { type: "string", minLength: 1 },
    },
  },
};

/** The host-reader entry that lets an image mount a host path, when the mount is read-only; undefined otherwise. */
export function findHostReader(readers: readonly HostReader[] | undefined, images: readonly (string | undefined)[], hostPath: string, readOnly: boolean): HostReader | undefined {
  if (!readOnly) return undefined;
  return (readers ?? []).find((reader) => reader.paths.includes(hostPath) && images.some((image) => findImageExemption([{ image: reader.image, reason: reader.reason }], image)));
}

export const EXEMPTIONS_SCHEMA: PolicyConfigJSONSchema = {
  type: "array",
  description: "Resources this policy does not judge: [{ name or urn glob pattern, reason }].",
  default: [],
  items: {
    type: "object",
    additionalProperties: false,
    required: ["reason"],
    // With additionalProperties false, two properties means reason plus a name or urn pattern
    // (the policy config schema has no anyOf).
    minProperties: 2,
    properties: {
      name: { type: "string", minLength: 1 },
      urn: { type: "string", minLength: 1 },
      reason: { type: "string", minLength: 1 },
    },
  },
};

export const IMAGE_EXEMPTIONS_SCHEMA: PolicyConfigJSONSchema = {
  type: "array",
  description: "Images this policy accepts anyway: [{ image glob pattern (repository, optionally with tag), reason }].",
  default: [],
  items: {
    type: "object",
    additionalProperties: false,
    required: ["image", "reason"],
    properties: {
      image: { type: "string", minLength: 1 },
      reason: { type: "string", minLength: 1 },
    },
  },
};

export function globMatches(pattern: string, text: string): boolean {
  const source = pattern
    .split("")
    .map((character) => (character === "*" ? ".*" : character === "?" ? "." : character.replace(/[\\^$.|+()[\]{}]/g, "\\$&")))
    .join("");
  return new RegExp(`^${source}$`).test(text);
}

export function findExemption(exemptions: readonly ResourceExemption[] | undefined, name: string, urn: string): ResourceExemption | undefined {
  return (exemptions ?? []).find(
    (exemption) =>
      (exemption.name !== undefined || exemption.urn !== undefined) &&
      (exemption.name === undefined || globMatches(exemption.name, name)) &&
      (exemption.urn === undefined || globMatches(exemption.urn, urn)),
  );
}

/** Matches the pattern against the repository ("postgres", "grafana/grafana") and the reference as written. */
export function findImageExemption(exemptions: readonly ImageExemption[] | undefined, image: string | undefined): ImageExemption | undefined {
  if (image === undefined) return undefined;
  const parsed = parseImageReference(image);
  const candidates = [image, parsed.repository, parsed.tag === undefined ? parsed.repository : `${parsed.repository}:${parsed.tag}`];
  return (exemptions ?? []).find((exemption) => candidates.some((candidate) => globMatches(exemption.image, candidate)));
}
