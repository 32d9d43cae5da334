import type { ServiceName } from "../config";
import type { LongPoll } from "../runtime/workload";

/**
 * Each service's routes that hold a request until something changes. Their duration is the wait
 * the client asked for, not latency: the services' latency alert leaves these route templates
 * out, and the gateway serves them on a router of its own that its latency alert leaves out.
 * The services' own tests check that every template here is a route the service has.
 */
export const SERVICE_LONG_POLLS: Record<ServiceName, readonly LongPoll[]> = {
  // The JWKS watch of config and gpu-jobs: held only with `?wait=` (and a matching ETag).
  users: [{ path: "/.well-known/jwks.json", heldWith: "wait" }],
  config: [
    { path: "/namespaces/:namespace/environments/:environment/watch" },
    { path: "/namespaces/:namespace/environments/:environment/effective/watch" },
    { path: "/namespaces/:namespace/environments/:environment/stream" },
  ],
  "gpu-jobs": [],
};

/** Every long poll's route template, as the services' request metrics label them. */
export const LONG_POLL_ROUTES: readonly string[] = [...new Set(Object.values(SERVICE_LONG_POLLS).flatMap((polls) => polls.map((poll) => poll.path)))];
