import { ErrorBody, httpErrors, Type, actorOf } from "@fundament/kit";
import { mayUseProject } from "../project-access";
import type { RouteContext } from "../route-context";

const BudgetBody = Type.Object({ project: Type.String(), limitUsd: Type.Number(), committedUsd: Type.Number(), remainingUsd: Type.Number() });
const BudgetParams = Type.Object({ project: Type.String({ pattern: "^[a-z0-9][a-z0-9-]{0,62}$" }) });

export function registerBudgetRoutes({ app, store, requireAdmin, requireSubmitter }: RouteContext): void {
  app.put(
    "/budgets/:project",
    { preHandler: requireAdmin, schema: { tags: ["budgets"], summary: "Set a project's budget in USD (gpu:admin)", security: [{ bearer: [] }], params: BudgetParams, body: Type.Object({ limitUsd: Type.Number({ minimum: 0, maximum: 10_000_000 }) }, { additionalProperties: false }), response: { 200: BudgetBody, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody } } },
    async (request) => store.setBudget(request.params.project, request.body.limitUsd, actorOf(request)),
  );
  app.get(
    "/budgets/:project",
    { preHandler: requireSubmitter, schema: { tags: ["budgets"], summary: "A project's budget, what its jobs have committed and what is left", security: [{ bearer: [] }], params: BudgetParams, response: { 200: BudgetBody, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody } } },
    async (request) => {
      if (!mayUseProject(request, request.params.project)) throw httpErrors.notFound("budget");
      const budget = await store.budget(store.pool, request.params.project);
      if (!budget) throw httpErrors.notFound("budget");
      return budget;
    },
  );
}
