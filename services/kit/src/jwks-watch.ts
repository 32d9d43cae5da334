import { pause } from "./long-poll";

/** The fetch the watch uses: the global one, or fetchVerifying's against the platform CA. */
export type JwksFetch = (url: string, init: { method?: string; headers?: Record<string, string>; signal?: AbortSignal | null }) => Promise<Response>;

export interface JwksWatchOptions {
  /** The users service's JWKS document, resolved again for every poll (discovery may move it). */
  resolveUrl: () => Promise<string>;
  /** How long each poll asks the users service to hold it. */
  waitSeconds: number;
  fetch: JwksFetch;
  /** The published key set changed (or was seen for the first time): the new document. */
  onChange: (jwks: unknown) => void;
  /** Pause after a failed poll. */
  retryMs: number;
  /** A failed poll, or a users service that holds no watch (then the watch ends). */
  onProblem: (message: string) => void;
}

/** The key set as the watch last saw it, and when a poll last confirmed it. */
export interface WatchedJwks {
  jwks: unknown;
  confirmedAt: number;
}

export interface JwksWatch {
  /** False once the watch ended: stopped, or the users service holds no watch. */
  readonly running: boolean;
  /** Undefined until the first poll answered, and after the watch ended. */
  current(): WatchedJwks | undefined;
  stop(): Promise<void>;
}

/**
 * Polls can come back at once (users replicas with different key sets during a rollout, a
 * replica shutting down): at most one per second then, so a watch never becomes a busy loop.
 */
const MIN_POLL_INTERVAL_MS = 1000;
/** Beyond the wait asked for: a users instance that vanished mid-poll does not hold the watch. */
const POLL_GRACE_MS = 10_000;

/**
 * Long-polls the JWKS document with If-None-Match and `wait`: the users service answers when its
 * key set changes, so a retired key stops verifying here at the next request rather than at the
 * cache's maximum age. The document is the one the watch last received, not one fetched on the
 * side: during a rollout old and new replicas answer in turn, and only the watch sees every
 * change of tag, including the last one.
 */
export function watchJwks(options: JwksWatchOptions): JwksWatch {
  const stopping = new AbortController();
  let running = true;
  let current: WatchedJwks | undefined;
  const rest = async (ms: number) => {
    const timer = pause(ms, stopping.signal);
    await timer.done;
    timer.cancel();
  };
  const loop = (async () => {
    let etag: string | undefined;
    while (!stopping.signal.aborted) {
      const started = Date.now();
      try {
        const url = new URL(await options.resolveUrl());
        url.searchParams.set("wait", `${options.waitSeconds}s`);
        const signal = AbortSignal.any([stopping.signal, AbortSignal.timeout(options.waitSeconds * 1000 + POLL_GRACE_MS)]);
        const response = await options.fetch(url.toString(), { method: "GET", headers: etag === undefined ? {} : { "if-none-match": etag }, signal });
        if (response.status === 304 && current !== undefined) {
          current = { jwks: current.jwks, confirmedAt: Date.now() };
        } else {
          if (response.status !== 200) throw new Error(`${url.origin}${url.pathname} answered HTTP ${response.status}`);
          const jwks: unknown = await response.json();
          const tag = response.headers.get("etag");
          if (tag === null) {
            options.onProblem(`${url.origin}${url.pathname} sends no ETag, so it holds no watch: a retired key stops verifying here only at the key set's maximum age`);
            break;
          }
          // An unchanged tag keeps the document callers already hold, so nothing rebuilds for it.
          const unchanged = tag === etag && current !== undefined;
          if (!unchanged) options.onChange(jwks);
          current = { jwks: unchanged && current !== undefined ? current.jwks : jwks, confirmedAt: Date.now() };
          etag = tag;
        }
      } catch (error) {
        if (stopping.signal.aborted) break;
        options.onProblem(`JWKS watch: ${(error as Error).message}; polling again in ${options.retryMs} ms`);
        await rest(options.retryMs);
        continue;
      }
      const elapsed = Date.now() - started;
      if (elapsed < MIN_POLL_INTERVAL_MS) await rest(MIN_POLL_INTERVAL_MS - elapsed);
    }
    running = false;
    current = undefined;
  })();
  return {
    get running() {
      return running;
    },
    current: () => current,
    async stop() {
      stopping.abort();
      await loop;
    },
  };
}
