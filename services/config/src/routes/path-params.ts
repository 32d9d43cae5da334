import { Type } from "@fundament/kit";

/** Names are restricted so they are safe in Redis keys, NOTIFY payloads and routing metadata. */
export const NamespaceName = Type.String({
  pattern: "^[a-z0-9][a-z0-9._-]{0,62}$",
  description: "lower-case letters, digits, '.', '_' and '-'; at most 63 characters",
});

export const EnvironmentName = Type.String({
  pattern: "^[a-z0-9][a-z0-9-]{0,62}$",
  description: "lower-case letters, digits and '-'; at most 63 characters; `base` is the one every other overlays",
});

export const NamespaceParams = Type.Object({ namespace: NamespaceName }, { additionalProperties: false });

export const EntryParams = Type.Object({ namespace: NamespaceName, environment: EnvironmentName }, { additionalProperties: false });

export const Reason = Type.String({ minLength: 1, maxLength: 1000, description: "why the change is made; kept with the version" });

/** If-Match carries the version the writer last read; quoted ETag form ("3") is accepted too. */
export const WriteHeaders = Type.Object({
  "if-match": Type.Optional(Type.String({ pattern: '^(W/)?"?[0-9]{1,9}"?$', description: "the version the change is based on (0: the entry must not exist yet)" })),
});

export function parseIfMatch(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  return Number(header.replace(/^W\//, "").replace(/"/g, ""));
}

/** JSON objects of any shape; the namespace's schema, not the route's, decides what is valid. */
export const AnyObject = Type.Object({}, { additionalProperties: true });
