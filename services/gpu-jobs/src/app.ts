import { checkPostgres, createService, type Logger, type Pool, requireRole, type ServiceApp, type TokenVerifier, type Tracing } from "@fundament/kit";
import type { Registry } from "prom-client";
import { registerGpuJobMetrics } from "./jobs/gpu-job-metrics";
import { JobRunner } from "./jobs/job-runner";
import { JobStore } from "./jobs/job-store";
import { OfferCatalog } from "./jobs/offer-catalog";
import { queueView } from "./jobs/queue-view";
import { SecretResolver } from "./jobs/secret-resolver";
import { WorkLoop } from "./jobs/work-loop";
import type { Provider } from "./placement/rank-offers";
import type { ProviderAdapter } from "./providers/provider-adapter";
import { registerBudgetRoutes } from "./routes/budgets/routes";
import { registerJobRoutes } from "./routes/jobs/routes";
import { registerOfferRoutes } from "./routes/offers/routes";
import { ADMIN_ROLE, SUBMIT_ROLE } from "./routes/project-access";
import { registerQueueRoutes } from "./routes/queues/routes";

export interface PlacementSettings {
  attemptTimeoutMs: number;
  maxAttempts: number;
  providerBackoffMs: number;
  offerTtlMs: number;
  reliabilityPrior: number;
  leaseMs: number;
  loopIntervalMs: number;
  reapIntervalMs: number;
}

/**
 * What the GPU jobs service needs, already connected. buildApp takes ownership: app.close()
 * stops the work loop, then runs the closers, then ends the pool.
 */
export interface GpuJobsAppDeps {
  logger: Logger;
  pool: Pool;
  verifier: TokenVerifier;
  adapters: ReadonlyMap<Provider, ProviderAdapter>;
  secretsDir?: string;
  placement: PlacementSettings;
  /** This replica's name in job leases (host name and pid). */
  owner: string;
  /** false in tests that drive the runner themselves. */
  startLoop?: boolean;
  metrics?: Registry;
  tracing?: Tracing;
  readiness?: Array<{ name: string; check: () => Promise<unknown>; timeoutMs?: number }>;
  closers?: Array<() => Promise<unknown>>;
}

export interface GpuJobsApp {
  app: ServiceApp;
  runner: JobRunner;
  loop: WorkLoop;
  store: JobStore;
  catalog: OfferCatalog;
}

export async function buildApp(deps: GpuJobsAppDeps): Promise<GpuJobsApp> {
  // The loop needs the app's metrics registry, and the app's closers need the loop.
  const started: { loop?: WorkLoop } = {};
  const app = await createService({
    name: "gpu-jobs",
    description: "Places GPU jobs on the cheapest feasible offer across providers, with failover, budgets and an audit trail",
    logger: deps.logger,
    ...(deps.metrics ? { metrics: deps.metrics } : {}),
    ...(deps.tracing ? { tracing: deps.tracing } : {}),
    readiness: [{ name: "postgres", check: () => checkPostgres(deps.pool), timeoutMs: 1000 }, ...(deps.readiness ?? [])],
    closers: [async () => started.loop?.stop(), ...(deps.closers ?? []), () => deps.pool.end()],
  });
  const store = new JobStore(deps.pool);
  const metrics = registerGpuJobMetrics(app.kit.metrics);
  const settings = deps.placement;
  const catalog = new OfferCatalog(deps.adapters, { ttlMs: settings.offerTtlMs, logger: deps.logger, reliability: () => store.reliabilities(settings.reliabilityPrior, 10) });
  const secrets = new SecretResolver(deps.secretsDir);
  const runner = new JobRunner({
    store,
    catalog,
    adapters: deps.adapters,
    secrets,
    logger: deps.logger,
    metrics,
    owner: deps.owner,
    leaseMs: settings.leaseMs,
    attemptTimeoutMs: settings.attemptTimeoutMs,
    maxAttempts: settings.maxAttempts,
    providerBackoffMs: settings.providerBackoffMs,
  });
  const workLoop = new WorkLoop({ store, runner, adapters: deps.adapters, metrics, logger: deps.logger, intervalMs: settings.loopIntervalMs, reapIntervalMs: settings.reapIntervalMs });
  started.loop = workLoop;
  const context = {
    app,
    store,
    catalog,
    secrets,
    runner,
    dispatch: async () => workLoop.kick(),
    requireSubmitter: requireRole(deps.verifier, [SUBMIT_ROLE, ADMIN_ROLE], "use GPU jobs"),
    requireAdmin: requireRole(deps.verifier, [ADMIN_ROLE], "administer GPU budgets"),
    queues: () => queueView(store),
  };
  registerJobRoutes(context);
  registerOfferRoutes(context);
  registerQueueRoutes(context);
  registerBudgetRoutes(context);
  if (deps.startLoop !== false) app.addHook("onReady", async () => workLoop.start());
  return { app, runner, loop: workLoop, store, catalog };
}
