import type { ServiceApp } from "@fundament/kit";
import type { Accounts } from "../../domain/accounts";
import type { Guards } from "../../plugins/authentication";
import { disableSchema, listSchema, rolesSchema } from "./users-schemas";

export function usersRoutes(app: ServiceApp, accounts: Accounts, guards: Guards): void {
  app.get("/users", { schema: listSchema, preHandler: guards.requireAdmin }, async (request) => {
    const { limit, offset, email } = request.query;
    const page = await accounts.list(email === undefined ? { limit, offset } : { limit, offset, email });
    return { ...page, limit, offset };
  });

  app.post("/users/:id/disable", { schema: disableSchema, preHandler: guards.requireAdmin }, async (request) =>
    accounts.disable(request.params.id, request.principal!.userId),
  );

  app.put("/users/:id/roles", { schema: rolesSchema, preHandler: guards.requireAdmin }, async (request) =>
    accounts.assignRoles(request.params.id, request.body.roles, request.principal!.userId),
  );
}
