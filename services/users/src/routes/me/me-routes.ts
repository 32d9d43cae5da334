import { ErrorBody, type ServiceApp } from "@fundament/kit";
import { publicUser } from "../../domain/accounts";
import type { Guards } from "../../plugins/authentication";
import { UserView } from "../user-schemas";

export function meRoutes(app: ServiceApp, guards: Guards): void {
  app.get(
    "/me",
    {
      schema: { tags: ["users"], summary: "The account of the access token", security: [{ bearer: [] }], response: { 200: UserView, 401: ErrorBody, 403: ErrorBody } },
      preHandler: guards.authenticate,
    },
    async (request) => publicUser(await guards.currentUser(request)),
  );
}
