import type { ServiceApp } from "@fundament/kit";
import type { preHandlerAsyncHookHandler } from "fastify";
import type { JobRunner } from "../jobs/job-runner";
import type { JobStore } from "../jobs/job-store";
import type { OfferCatalog } from "../jobs/offer-catalog";
import type { SecretResolver } from "../jobs/secret-resolver";

export interface RouteContext {
  app: ServiceApp;
  store: JobStore;
  catalog: OfferCatalog;
  secrets: SecretResolver;
  /** Asks for work on a job now (a launch or cancel command); the reconciliation loop is the fallback. */
  dispatch(jobId: string): Promise<void>;
  runner: JobRunner;
  requireSubmitter: preHandlerAsyncHookHandler;
  requireAdmin: preHandlerAsyncHookHandler;
  queues(): Promise<unknown>;
}
