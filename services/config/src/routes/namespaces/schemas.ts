import { Type } from "@fundament/kit";
import { AnyObject } from "../path-params";

export const NamespaceBody = Type.Object(
  {
    name: Type.String(),
    schema: AnyObject,
    schemaVersion: Type.Integer(),
    createdAt: Type.String({ format: "date-time" }),
    updatedAt: Type.String({ format: "date-time" }),
    updatedBy: Type.String(),
  },
  { title: "Namespace" },
);

export const PutNamespaceBody = Type.Object(
  { schema: Type.Object({}, { additionalProperties: true, description: "JSON Schema (draft-07) every effective document must satisfy" }) },
  { additionalProperties: false },
);
