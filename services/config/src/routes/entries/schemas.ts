import { Type } from "@fundament/kit";
import { AnyObject, Reason } from "../path-params";

export const PatchOperationBody = Type.Object({
  op: Type.String(),
  path: Type.String(),
  value: Type.Optional(Type.Unknown()),
});

export const VersionBody = Type.Object(
  {
    namespace: Type.String(),
    environment: Type.String(),
    version: Type.Integer(),
    document: AnyObject,
    patch: Type.Array(PatchOperationBody, { description: "RFC 6902 operations from the previous version" }),
    actor: Type.String(),
    reason: Type.String(),
    restoredFrom: Type.Union([Type.Integer(), Type.Null()]),
    createdAt: Type.String({ format: "date-time" }),
  },
  { title: "Version" },
);

export const WriteBody = Type.Object(
  {
    document: AnyObject,
    reason: Reason,
  },
  { additionalProperties: false },
);

export const EffectiveBody = Type.Object(
  {
    namespace: Type.String(),
    environment: Type.String(),
    document: AnyObject,
    baseVersion: Type.Integer(),
    version: Type.Integer(),
  },
  { title: "EffectiveConfig" },
);

const KnownVersion = (what: string) =>
  Type.Optional(
    Type.Integer({
      minimum: 1,
      maximum: 2147483647,
      description: `a version of ${what} the caller knows exists (the ETag its write returned): no copy older than it is served, whichever replica answers`,
    }),
  );

export const EntryReadQuery = Type.Object({ minVersion: KnownVersion("the entry") }, { additionalProperties: false });

export const EffectiveReadQuery = Type.Object(
  {
    minVersion: KnownVersion("the environment's own entry (for `base`, the base entry)"),
    minBaseVersion: KnownVersion("the base entry"),
  },
  { additionalProperties: false },
);
