// Shared by the Redis and MongoDB components (hence the name): both refuse floating image references,
// because a restart must never change the server version.

/** Why an image reference is not pinned, or undefined when it is (a version tag other than "latest", or a digest). */
export function pinnedImageProblem(image: unknown): string | undefined {
  if (typeof image !== "string" || image.trim() === "") return `must be an image reference (got ${JSON.stringify(image)})`;
  if (/@sha256:[0-9a-f]{64}$/.test(image)) return undefined;
  const lastSegment = image.slice(image.lastIndexOf("/") + 1);
  const colon = lastSegment.indexOf(":");
  if (colon < 0) return `must carry a pinned tag or digest, a bare name floats to "latest" (got ${JSON.stringify(image)})`;
  const tag = lastSegment.slice(colon + 1);
  if (tag === "" || tag === "latest") return `must carry a pinned tag or digest, not "${tag || "(empty)"}" (got ${JSON.stringify(image)})`;
  return undefined;
}
