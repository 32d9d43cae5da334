import { Type, WaitParameter } from "@fundament/kit";
import { VersionBody } from "../entries/schemas";

export const WatchQuery = Type.Object(
  {
    sinceVersion: Type.Integer({ minimum: 0, maximum: 2147483647, description: "the last version the watcher has seen" }),
    wait: WaitParameter,
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
  },
  { additionalProperties: false },
);

export const WatchBody = Type.Object(
  {
    versions: Type.Array(VersionBody),
    /** The version to pass as sinceVersion next time. */
    nextSinceVersion: Type.Integer(),
    outcome: Type.Union([Type.Literal("changed"), Type.Literal("timeout"), Type.Literal("closing")]),
  },
  { title: "WatchResult" },
);
