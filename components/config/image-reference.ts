/**
 * Container image references as the distribution spec defines them, pinned: a tag other than
 * `latest` or a digest is required, so a redeploy never silently changes what runs.
 */
const DOMAIN = String.raw`(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?)`;
const COMPONENT = String.raw`[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*`;
const REFERENCE = new RegExp(
  String.raw`^(?:(${DOMAIN})/)?(${COMPONENT}(?:/${COMPONENT})*)(?::([\w][\w.-]{0,127}))?(?:@(sha256:[a-f0-9]{64}))?$`,
);

export interface ImageReference {
  registry?: string;
  repository: string;
  tag?: string;
  digest?: string;
}

export function parseImageReference(reference: string): ImageReference | undefined {
  const match = REFERENCE.exec(reference);
  if (!match) return undefined;
  const [, , , tag, digest] = match;
  let registry: string | undefined = match[1];
  let repository = match[2];
  // "library/postgres" style: a first part without a dot or port is a path component, not a registry.
  if (registry !== undefined && !/[.:]/.test(registry) && registry !== "localhost") {
    repository = `${registry}/${repository}`;
    registry = undefined;
  }
  return { registry, repository, tag, digest };
}

/** Why `reference` is not a pinned image reference, or undefined when it is one. */
export function imageReferenceProblem(reference: string): string | undefined {
  const parsed = parseImageReference(reference);
  if (!parsed) return "is not a valid image reference (expected [registry/]name:tag or name@sha256:digest, lower-case name)";
  if (parsed.tag === undefined && parsed.digest === undefined) return "must be pinned to a tag or digest";
  if (parsed.tag === "latest" && parsed.digest === undefined) return "must not use the moving tag latest";
  return undefined;
}
