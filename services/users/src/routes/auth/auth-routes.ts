import type { ServiceApp } from "@fundament/kit";
import type { Accounts } from "../../domain/accounts";
import { loginSchema, logoutSchema, refreshSchema, registerSchema } from "./auth-schemas";

export function authRoutes(app: ServiceApp, accounts: Accounts): void {
  app.post("/auth/register", { schema: registerSchema }, async (request, reply) => {
    const user = await accounts.register(request.body);
    return reply.status(201).send(user);
  });

  app.post("/auth/login", { schema: loginSchema }, async (request) => accounts.login(request.body, request.ip));

  app.post("/auth/refresh", { schema: refreshSchema }, async (request) => accounts.refresh(request.body.refreshToken));

  app.post("/auth/logout", { schema: logoutSchema }, async (request, reply) => {
    await accounts.logout(request.body.refreshToken);
    return reply.status(204).send(null);
  });
}
