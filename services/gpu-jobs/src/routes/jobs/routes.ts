import { ErrorBody, HttpError, httpErrors, Type, actorOf } from "@fundament/kit";
import { BudgetExceededError } from "../../jobs/job-store";
import type { JobRecord } from "../../jobs/job-types";
import { mayUseProject, projectsOf } from "../project-access";
import type { RouteContext } from "../route-context";
import { ENV_NAME, JobBody, JobParams, ListQuery, SubmitBody } from "./schemas";

function present(job: JobRecord, attempts?: Awaited<ReturnType<RouteContext["store"]["attempts"]>>) {
  const { request, offerId: _offer, updatedAt: _updated, ...rest } = job;
  const { maxPricePerHour: _max, estimatedHours: _hours, ...gpu } = request;
  // A running job's cost grows by the hour: show it as of now, not as of the last monitor pass.
  const costUsd = job.startedAt && !job.finishedAt && job.pricePerHour !== null ? Math.round(((job.pricePerHour * (Date.now() - Date.parse(job.startedAt))) / 3_600_000) * 10_000) / 10_000 : job.costUsd;
  return { ...rest, gpu, costUsd, ...(attempts ? { attempts: attempts.map(({ idempotencyKey: _key, ...attempt }) => attempt) } : {}) };
}

export function registerJobRoutes(context: RouteContext): void {
  const { app, store, requireSubmitter } = context;

  /** Unknown and another project's job answer the same: the caller learns nothing about jobs it may not see. */
  async function visibleJob(request: Parameters<typeof mayUseProject>[0], id: string): Promise<JobRecord> {
    const job = await store.get(id);
    if (!job || !mayUseProject(request, job.project)) throw httpErrors.notFound("job");
    return job;
  }

  app.post(
    "/jobs",
    {
      preHandler: requireSubmitter,
      schema: { tags: ["jobs"], summary: "Submit a GPU job; its worst case (maxPricePerHour × estimatedHours) is reserved from the project's budget", security: [{ bearer: [] }], body: SubmitBody, response: { 201: JobBody, 400: ErrorBody, 401: ErrorBody, 402: ErrorBody, 403: ErrorBody } },
    },
    async (request, reply) => {
      const body = request.body;
      if (!mayUseProject(request, body.project)) throw httpErrors.forbidden(`body.project: the caller has no role gpu:project:${body.project}`, "PROJECT_NOT_ALLOWED");
      if (body.deadline !== undefined && Date.parse(body.deadline) <= Date.now()) throw httpErrors.badInput("body.deadline", "must be in the future");
      if (body.gpu.gpuModels && new Set(body.gpu.gpuModels).size !== body.gpu.gpuModels.length) throw httpErrors.badInput("body.gpu.gpuModels", "must not repeat a model");
      for (const [name, value] of Object.entries(body.environment ?? {})) {
        // The schema's key pattern documents the rule; a record's keys are checked here so the message names the key.
        if (!ENV_NAME.test(name)) throw httpErrors.badInput(`body.environment.${name}`, "must be a variable name (letters, digits, _; not starting with a digit)");
        if ("secretRef" in value && !(await context.secrets.exists(value.secretRef))) throw httpErrors.badInput(`body.environment.${name}.secretRef`, `no secret named ${value.secretRef}`);
      }
      let job: JobRecord;
      try {
        job = await store.submit(
          {
            project: body.project,
            image: body.image,
            command: body.command,
            environment: body.environment ?? {},
            gpu: body.gpu,
            maxPricePerHour: body.maxPricePerHour,
            estimatedHours: body.estimatedHours,
            ...(body.deadline === undefined ? {} : { deadline: body.deadline }),
          },
          actorOf(request),
        );
      } catch (error) {
        if (error instanceof BudgetExceededError) {
          const budget = error.budget;
          throw new HttpError(402, "BUDGET_EXCEEDED", `body.maxPricePerHour: the job may cost ${error.requestedUsd.toFixed(2)} USD (${body.maxPricePerHour} × ${body.estimatedHours} h) and project ${body.project} has ${budget ? `${Math.max(0, budget.remainingUsd).toFixed(2)} USD left of ${budget.limitUsd.toFixed(2)}` : "no budget"}`, {
            project: body.project,
            requestedUsd: error.requestedUsd,
            limitUsd: budget?.limitUsd ?? 0,
            committedUsd: budget?.committedUsd ?? 0,
            remainingUsd: budget ? Math.max(0, budget.remainingUsd) : 0,
          });
        }
        throw error;
      }
      await context.dispatch(job.id);
      return reply.status(201).send(present(job, []));
    },
  );

  app.get(
    "/jobs/:id",
    { preHandler: requireSubmitter, schema: { tags: ["jobs"], summary: "A job with every placement attempt and its cost so far", security: [{ bearer: [] }], params: JobParams, response: { 200: JobBody, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody } } },
    async (request) => {
      const job = await visibleJob(request, request.params.id);
      return present(job, await store.attempts(job.id));
    },
  );

  app.get(
    "/jobs",
    { preHandler: requireSubmitter, schema: { tags: ["jobs"], summary: "Jobs of the caller's projects, newest first", security: [{ bearer: [] }], querystring: ListQuery, response: { 200: Type.Object({ jobs: Type.Array(JobBody) }), 400: ErrorBody, 401: ErrorBody, 403: ErrorBody } } },
    async (request) => {
      const projects = projectsOf(request);
      if (request.query.project && projects && !projects.includes(request.query.project)) return { jobs: [] };
      const jobs = await store.list({
        ...(projects ? { projects } : {}),
        ...(request.query.project ? { project: request.query.project } : {}),
        ...(request.query.state ? { state: request.query.state } : {}),
        limit: request.query.limit ?? 100,
      });
      return { jobs: jobs.map((job) => present(job)) };
    },
  );

  app.delete(
    "/jobs/:id",
    { preHandler: requireSubmitter, schema: { tags: ["jobs"], summary: "Cancel a job: whatever runs is terminated", security: [{ bearer: [] }], params: JobParams, response: { 202: JobBody, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody } } },
    async (request, reply) => {
      const job = await visibleJob(request, request.params.id);
      const cancelling = await store.requestCancel(job, actorOf(request));
      if (cancelling.state === "cancelling") await context.dispatch(job.id);
      return reply.status(202).send(present(cancelling));
    },
  );
}
