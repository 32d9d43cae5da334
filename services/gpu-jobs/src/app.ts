import { checkPostgres, createService, type Logger, type Pool, requireRole, type ServiceApp, type TokenVerifier, type Tracing } from "@fundament/kit";
import { OutboxRelay, type Consumer, type OutboxPublisher } from "@fundament/kit/messaging";
import type { Registry } from "prom-client";
import { startCommandWorkers, type CommandConsumer } from "./jobs/command-workers";
import { registerGpuJobMetrics } from "./jobs/gpu-job-metrics";
import { JobRunner } from "./jobs/job-runner";
import { JobStore } from "./jobs/job-store";
import { OfferCatalog } from "./jobs/offer-catalog";
import { queueView } from "./jobs/queue-view";
import { SecretResolver } from "./jobs/secret-resolver";
import { WorkLoop } from "./jobs/work-loop";
import { GPU_OUTBOX, GPU_OUTBOX_TYPES } from "./messages/gpu-job-messages";
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

/** The broker link: confirmed publish for the outbox relay, consume for the command workers. */
export interface GpuJobsMessaging extends OutboxPublisher, CommandConsumer {
  readonly connected: boolean;
  close(): Promise<void>;
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
  /**
   * Commands and events go through RabbitMQ when set: the outbox relay publishes gpu_outbox rows,
   * this replica's workers consume the launch, monitor and cancel queues. Without it the work
   * loop does every step itself and gpu_outbox keeps its rows.
   */
  messaging?: GpuJobsMessaging;
  /** The relay's poll, behind the wake-up of each commit that wrote outbox rows. Default 1000 ms. */
  outboxPollMs?: number;
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
  const started: { loop?: WorkLoop; relay?: OutboxRelay; workers?: Consumer[] } = {};
  const messaging = deps.messaging;
  const app = await createService({
    name: "gpu-jobs",
    description: "Places GPU jobs on the cheapest feasible offer across providers, with failover, budgets and an audit trail",
    logger: deps.logger,
    ...(deps.metrics ? { metrics: deps.metrics } : {}),
    ...(deps.tracing ? { tracing: deps.tracing } : {}),
    readiness: [
      { name: "postgres", check: () => checkPostgres(deps.pool), timeoutMs: 1000 },
      ...(messaging
        ? [
            {
              name: "rabbitmq",
              check: async () => {
                if (!messaging.connected) throw new Error("not connected to the broker");
              },
            },
          ]
        : []),
      ...(deps.readiness ?? []),
    ],
    // In order: no new work scheduled, workers finish their commands, the relay stops, the broker
    // link drains, then the pool closes.
    closers: [
      async () => started.loop?.stop(),
      async () => Promise.all((started.workers ?? []).map((worker) => worker.stop())),
      async () => started.relay?.stop(),
      async () => messaging?.close(),
      ...(deps.closers ?? []),
      () => deps.pool.end(),
    ],
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
  const workLoop = new WorkLoop({
    store,
    runner,
    adapters: deps.adapters,
    metrics,
    logger: deps.logger,
    intervalMs: settings.loopIntervalMs,
    reapIntervalMs: settings.reapIntervalMs,
    ...(messaging ? { brokerConnected: () => messaging.connected } : {}),
  });
  started.loop = workLoop;
  const relay = messaging ? new OutboxRelay({ pool: deps.pool, publisher: messaging, table: GPU_OUTBOX, types: GPU_OUTBOX_TYPES, logger: deps.logger, pollMs: deps.outboxPollMs ?? 1000 }) : undefined;
  started.relay = relay;
  if (relay) store.onOutboxCommit(() => relay.kick());
  const context = {
    app,
    store,
    catalog,
    secrets,
    runner,
    // With a relay the command is in the outbox with the job's change, and the store woke the relay
    // at its commit (a second kick would only run an empty pass); without one the loop does the work.
    dispatch: async () => {
      if (!relay) workLoop.kick();
    },
    requireSubmitter: requireRole(deps.verifier, [SUBMIT_ROLE, ADMIN_ROLE], "use GPU jobs"),
    requireAdmin: requireRole(deps.verifier, [ADMIN_ROLE], "administer GPU budgets"),
    queues: () => queueView(store),
  };
  registerJobRoutes(context);
  registerOfferRoutes(context);
  registerQueueRoutes(context);
  registerBudgetRoutes(context);
  if (messaging && relay) {
    app.addHook("onReady", async () => {
      relay.start();
      started.workers = await startCommandWorkers(messaging, runner, deps.logger);
    });
  }
  if (deps.startLoop !== false) app.addHook("onReady", async () => workLoop.start());
  return { app, runner, loop: workLoop, store, catalog };
}
