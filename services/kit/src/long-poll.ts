import { Type } from "@fastify/type-provider-typebox";
import { httpErrors } from "./errors";

/** The `wait` query parameter of every long poll: "30s", "500ms" or a bare number of seconds. */
export const WaitParameter = Type.Optional(Type.String({ pattern: "^[0-9]{1,6}(ms|s)?$", description: "how long to wait for a change: 30s, 500ms or seconds" }));

export interface WaitLimits {
  defaultWaitMs: number;
  maxWaitMs: number;
}

/** The wait a request asked for, in milliseconds; a 400 naming `querystring.wait` when unreadable or too long. */
export function requestedWait(wait: string | undefined, limits: WaitLimits): number {
  if (wait === undefined) return limits.defaultWaitMs;
  const waitMs = parseWait(wait);
  if (waitMs === undefined) throw httpErrors.badInput("querystring.wait", "must look like 30s, 500ms or a number of seconds");
  if (waitMs > limits.maxWaitMs) throw httpErrors.badInput("querystring.wait", `must be at most ${limits.maxWaitMs / 1000}s (got ${wait})`);
  return waitMs;
}

/** `wait` in milliseconds; undefined when unreadable. */
function parseWait(text: string): number | undefined {
  const match = /^(\d{1,6})(ms|s)?$/.exec(text);
  if (!match) return undefined;
  const amount = Number(match[1]);
  return match[2] === "ms" ? amount : amount * 1000;
}

/** A wait's timer that also ends when `signal` aborts (the client went away); cancel() releases both. */
export function pause(ms: number, signal: AbortSignal | undefined): { done: Promise<"timeout" | "aborted">; cancel: () => void } {
  let timer: NodeJS.Timeout | undefined;
  let onAbort: () => void = () => undefined;
  const done = new Promise<"timeout" | "aborted">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), ms);
    onAbort = () => resolve("aborted");
    if (signal?.aborted) resolve("aborted");
    signal?.addEventListener("abort", onAbort, { once: true });
  });
  return {
    done,
    cancel: () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    },
  };
}

/** Aborts when the client closes the connection before the reply was written (a long poll it gave up on). */
export function clientGone(raw: { once(event: "close", listener: () => void): unknown; readonly writableFinished: boolean; readonly destroyed: boolean }): AbortSignal {
  const aborted = new AbortController();
  const gone = () => {
    if (!raw.writableFinished) aborted.abort();
  };
  // It may have hung up while the route was still reading what to wait for.
  if (raw.destroyed) gone();
  else raw.once("close", gone);
  return aborted.signal;
}
