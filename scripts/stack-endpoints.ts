/**
 * Where each UI and endpoint of a deployed stack is, from `pulumi stack output --json` (which
 * shows every secret output as the string "[secret]", so none can reach these lines).
 */

const SECRET = "[secret]";

function isEndpoint(value: unknown): value is { host: string; port: number } {
  if (typeof value !== "object" || value === null) return false;
  const { host, port } = value as { host?: unknown; port?: unknown };
  return typeof host === "string" && typeof port === "number";
}

/** One `path: address` line per URL (a string with a scheme) or `{ host, port }` in the outputs. */
export function endpointLines(outputs: unknown, path: string[] = []): string[] {
  if (typeof outputs === "string") {
    return outputs !== SECRET && /^[a-z][a-z0-9+.-]*:\/\//i.test(outputs) ? [`${path.join(".")}: ${outputs}`] : [];
  }
  if (isEndpoint(outputs)) return [`${path.join(".")}: ${outputs.host}:${outputs.port}`];
  if (Array.isArray(outputs)) return outputs.flatMap((item, index) => endpointLines(item, [...path, String(index)]));
  if (typeof outputs === "object" && outputs !== null) {
    return Object.entries(outputs).flatMap(([key, value]) => endpointLines(value, [...path, key]));
  }
  return [];
}
