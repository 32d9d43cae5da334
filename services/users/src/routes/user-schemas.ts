import { Type } from "@fundament/kit";

/** A user as the API shows it (never the password hash). */
export const UserView = Type.Object(
  {
    id: Type.String({ format: "uuid" }),
    email: Type.String(),
    displayName: Type.Union([Type.String(), Type.Null()]),
    roles: Type.Array(Type.String()),
    disabled: Type.Boolean(),
    createdAt: Type.String({ format: "date-time" }),
  },
  { title: "User" },
);

export const UserId = Type.Object({ id: Type.String({ format: "uuid", description: "the user's id" }) });
