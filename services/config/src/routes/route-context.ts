import type { ServiceApp, WaitLimits } from "@fundament/kit";
import type { ChangeFeed } from "../change-feed";
import type { ConfigEntries } from "../config-entries";
import type { preHandlerAsyncHookHandler } from "fastify";
import type { VersionStore } from "../version-store";

/** What every route module receives from buildApp. */
export interface RouteContext {
  app: ServiceApp;
  store: VersionStore;
  entries: ConfigEntries;
  feed: ChangeFeed;
  /** preHandler admitting only callers with the write role. */
  requireWriter: preHandlerAsyncHookHandler;
  /** preHandlers of read routes: the read-role check when one is configured, else none. */
  readAccess: preHandlerAsyncHookHandler[];
  watch: WaitLimits;
}
