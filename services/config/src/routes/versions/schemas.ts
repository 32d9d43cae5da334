import { Type } from "@fundament/kit";
import { EnvironmentName, NamespaceName, Reason } from "../path-params";
import { VersionBody } from "../entries/schemas";

export const VersionParams = Type.Object(
  { namespace: NamespaceName, environment: EnvironmentName, version: Type.Integer({ minimum: 1, maximum: 2147483647 }) },
  { additionalProperties: false },
);

export const VersionListQuery = Type.Object(
  {
    after: Type.Optional(Type.Integer({ minimum: 0, maximum: 2147483647, description: "only versions newer than this" })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
  },
  { additionalProperties: false },
);

export const VersionList = Type.Object({ versions: Type.Array(VersionBody) }, { title: "VersionList" });

export const RollbackBody = Type.Object(
  {
    toVersion: Type.Integer({ minimum: 1, maximum: 2147483647, description: "the version whose document becomes current again" }),
    reason: Reason,
  },
  { additionalProperties: false },
);
