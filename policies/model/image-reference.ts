/** A container image reference split the way Docker resolves it. */
export interface ImageReference {
  /** Repository without registry or the implicit `library/` namespace, e.g. "postgres", "grafana/grafana". */
  repository: string;
  /** Last path segment of the repository, e.g. "grafana" for "grafana/grafana". */
  shortName: string;
  tag?: string;
  digest?: string;
  /** The provider-resolved form `sha256:<id>` that a docker.RemoteImage hands to a container. */
  isImageId: boolean;
}

const DEFAULT_REGISTRIES = new Set(["docker.io", "index.docker.io", "registry-1.docker.io"]);

export function parseImageReference(reference: string): ImageReference {
  const trimmed = reference.trim();
  if (/^sha256:[0-9a-f]{12,64}$/i.test(trimmed)) {
    return { repository: trimmed, shortName: trimmed, digest: trimmed, isImageId: true };
  }
  const [withoutDigest, digest] = splitOnce(trimmed, "@");
  const lastSlash = withoutDigest.lastIndexOf("/");
  const lastColon = withoutDigest.lastIndexOf(":");
  // A colon before the last slash belongs to a registry port (registry:5000/app), not a tag.
  const hasTag = lastColon > lastSlash;
  const name = hasTag ? withoutDigest.slice(0, lastColon) : withoutDigest;
  const tag = hasTag ? withoutDigest.slice(lastColon + 1) : undefined;
  const segments = name.split("/");
  const first = segments[0] ?? "";
  // Docker treats the first segment as a registry only if it looks like a host.
  const hasRegistry = segments.length > 1 && (first.includes(".") || first.includes(":") || first === "localhost");
  let path = hasRegistry ? segments.slice(1) : segments;
  if (hasRegistry && !DEFAULT_REGISTRIES.has(first)) {
    path = segments;
  }
  if (path.length === 2 && path[0] === "library") path = path.slice(1);
  const repository = path.join("/").toLowerCase();
  const shortName = (path[path.length - 1] ?? "").toLowerCase();
  const parsed: ImageReference = { repository, shortName, isImageId: false };
  if (tag !== undefined) parsed.tag = tag;
  if (digest !== undefined) parsed.digest = digest;
  return parsed;
}

/** Pinned means the reference names one image for good: a digest, an image id, or a tag other than latest. */
export function imagePinProblem(reference: string): string | undefined {
  const image = parseImageReference(reference);
  if (image.isImageId || image.digest !== undefined) return undefined;
  if (image.tag === undefined) return "has no tag, so it resolves to whatever :latest is at pull time";
  if (image.tag === "latest") return "uses the moving tag :latest";
  return undefined;
}

function splitOnce(text: string, separator: string): [string, string | undefined] {
  const index = text.indexOf(separator);
  return index === -1 ? [text, undefined] : [text.slice(0, index), text.slice(index + 1)];
}
