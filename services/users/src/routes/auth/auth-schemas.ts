import { ErrorBody, Type } from "@fundament/kit";
import { MAX_PASSWORD_LENGTH } from "../../domain/password-policy";
import { UserView } from "../user-schemas";

const Email = Type.String({ format: "email", minLength: 3, maxLength: 254, description: "case-insensitive" });
/** 32 random bytes, base64url without padding. */
const RefreshToken = Type.String({ minLength: 43, maxLength: 43, pattern: "^[A-Za-z0-9_-]+$" });

export const RegisterBody = Type.Object(
  {
    email: Email,
    password: Type.String({ minLength: 1, maxLength: MAX_PASSWORD_LENGTH, description: "policy: minimum length from config (default 12), not a common password" }),
    displayName: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  },
  { additionalProperties: false },
);

export const LoginBody = Type.Object(
  {
    email: Email,
    // Older accounts may predate today's policy, so login accepts any non-empty password up to a bound.
    password: Type.String({ minLength: 1, maxLength: 1024 }),
  },
  { additionalProperties: false },
);

export const RefreshBody = Type.Object({ refreshToken: RefreshToken }, { additionalProperties: false });

export const TokenPairView = Type.Object(
  {
    accessToken: Type.String(),
    tokenType: Type.Literal("Bearer"),
    expiresIn: Type.Integer({ description: "seconds until the access token expires" }),
    refreshToken: Type.String({ description: "single use: each refresh returns a new one" }),
  },
  { title: "TokenPair" },
);

export const registerSchema = {
  tags: ["auth"],
  summary: "Create an account",
  body: RegisterBody,
  response: { 201: UserView, 400: ErrorBody, 409: ErrorBody },
};

export const loginSchema = {
  tags: ["auth"],
  summary: "Exchange email and password for an access token and a refresh token",
  body: LoginBody,
  response: { 200: TokenPairView, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 429: ErrorBody },
};

export const refreshSchema = {
  tags: ["auth"],
  summary: "Spend a refresh token for a new pair; reusing a spent one revokes its whole family",
  body: RefreshBody,
  response: { 200: TokenPairView, 400: ErrorBody, 401: ErrorBody },
};

export const logoutSchema = {
  tags: ["auth"],
  summary: "Revoke the refresh token's family (this login's session)",
  body: RefreshBody,
  response: { 204: Type.Null(), 400: ErrorBody },
};
