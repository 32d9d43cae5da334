import { consulRequest, type ConsulConnection } from "./consul-http";

/** One reachable instance of a service. */
export interface ServiceInstance {
  id: string;
  address: string;
  port: number;
  tags: string[];
  meta: Record<string, string>;
}

export interface DiscoveryOptions {
  /** Consul's API; when absent every service is its workload's DNS name (`fallback`). */
  consul?: ConsulConnection;
  /** The DNS name and port of each service the caller may discover (the runtime's name for it). */
  fallback: Record<string, { host: string; port: number }>;
  /** Longest a blocking query waits for a change (Consul caps it at 10 minutes). */
  waitSeconds?: number;
  /** Least time between two queries of one service that return the same index (Consul's rate-limit advice). */
  minIntervalMs?: number;
  /** First pause after a failed query; doubles up to maxRetryMs. */
  retryMs?: number;
  maxRetryMs?: number;
  onError?: (service: string, error: unknown) => void;
}

export interface Discovery {
  /**
   * Passing instances of `service`: from the cache a blocking query keeps current, after the
   * first call; the DNS name when Consul is not configured. Rejects when Consul has never
   * answered for the service; afterwards a failing Consul leaves the last answer in place.
   */
  discover(service: string): Promise<ServiceInstance[]>;
  /** Ends every watch (in-flight blocking queries are aborted). */
  close(): void;
}

/** Entry of GET /v1/health/service/:service (the parts discovery reads). */
interface HealthEntry {
  Node?: { Node?: string; Address?: string };
  Service?: { ID?: string; Service?: string; Address?: string; Port?: number; Tags?: string[] | null; Meta?: Record<string, string> | null };
}

/**
 * Consul's blocking-query index rules (developer.hashicorp.com/consul/api-docs/features/blocking):
 * an index that goes backwards resets the wait to 0 (a fresh, non-blocking read); an index below
 * 1 is treated as 1, since 0 would make every following query return at once.
 */
export function nextIndex(previous: number, returned: number): number {
  if (!Number.isFinite(returned) || returned < 1) return 1;
  if (returned < previous) return 0;
  return returned;
}

/** Instances from a health answer: the service address, or the node's when it has none; one per address and port. */
export function instancesOf(entries: HealthEntry[]): ServiceInstance[] {
  const seen = new Map<string, ServiceInstance>();
  for (const entry of entries) {
    const service = entry.Service;
    if (!service?.Port) continue;
    const address = service.Address || entry.Node?.Address;
    if (!address) continue;
    const key = `${address}:${service.Port}`;
    // The same workload registered on several servers (infrastructure entries): one instance.
    if (!seen.has(key)) seen.set(key, { id: service.ID ?? key, address, port: service.Port, tags: service.Tags ?? [], meta: service.Meta ?? {} });
  }
  return [...seen.values()].sort((a, b) => a.id.localeCompare(b.id));
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => (clearTimeout(timer), resolve()), { once: true });
  });

interface Watch {
  instances?: ServiceInstance[];
  first: Promise<ServiceInstance[]>;
}

export function createDiscovery(options: DiscoveryOptions): Discovery {
  const waitSeconds = options.waitSeconds ?? 60;
  const minIntervalMs = options.minIntervalMs ?? 1000;
  const retryMs = options.retryMs ?? 500;
  const maxRetryMs = options.maxRetryMs ?? 30_000;
  const stop = new AbortController();
  const watches = new Map<string, Watch>();

  const fallbackOf = (service: string): ServiceInstance[] => {
    const target = options.fallback[service];
    if (!target) throw new Error(`discover: unknown service ${JSON.stringify(service)} (known: ${Object.keys(options.fallback).join(", ") || "none"})`);
    return [{ id: `${service}-dns`, address: target.host, port: target.port, tags: [], meta: {} }];
  };

  async function query(consul: ConsulConnection, service: string, index: number): Promise<{ instances: ServiceInstance[]; index: number }> {
    const params = new URLSearchParams({ passing: "true" });
    if (index > 0) {
      params.set("index", String(index));
      params.set("wait", `${waitSeconds}s`);
    }
    // Consul adds up to wait/16 of jitter to a blocking query's wait.
    const timeoutMs = (consul.timeoutMs ?? 5000) + (index > 0 ? Math.ceil((waitSeconds * 1000 * 17) / 16) : 0);
    const response = await consulRequest(consul, "GET", `/v1/health/service/${encodeURIComponent(service)}?${params.toString()}`, { timeoutMs, signal: stop.signal });
    if (response.status !== 200) throw new Error(`consul health of ${service}: ${response.status} ${response.body.slice(0, 200)}`);
    const header = response.headers["x-consul-index"];
    const returned = Number(Array.isArray(header) ? header[0] : header);
    return { instances: instancesOf(JSON.parse(response.body) as HealthEntry[]), index: returned };
  }

  function watch(consul: ConsulConnection, service: string): Watch {
    let resolveFirst!: (instances: ServiceInstance[]) => void;
    let rejectFirst!: (error: unknown) => void;
    const state: Watch = { first: new Promise<ServiceInstance[]>((resolve, reject) => ((resolveFirst = resolve), (rejectFirst = reject))) };
    void (async () => {
      let index = 0;
      let pause = retryMs;
      while (!stop.signal.aborted) {
        const started = Date.now();
        try {
          const answer = await query(consul, service, index);
          state.instances = answer.instances;
          resolveFirst(answer.instances);
          pause = retryMs;
          const next = nextIndex(index, answer.index);
          const unchanged = next === index;
          index = next;
          if (unchanged) await sleep(Math.max(0, minIntervalMs - (Date.now() - started)), stop.signal);
        } catch (error) {
          if (stop.signal.aborted) {
            if (state.instances === undefined) rejectFirst(new Error("discover: closed"));
            break;
          }
          options.onError?.(service, error);
          if (state.instances === undefined) {
            // Nobody has an answer yet: the caller sees the failure, the next discover() tries again.
            watches.delete(service);
            rejectFirst(error);
            return;
          }
          await sleep(pause, stop.signal);
          pause = Math.min(pause * 2, maxRetryMs);
          // The next answer may come from a server with another raft index: start over.
          index = 0;
        }
      }
    })();
    return state;
  }

  return {
    async discover(service) {
      if (!options.consul) return fallbackOf(service);
      if (stop.signal.aborted) throw new Error("discover: closed");
      let state = watches.get(service);
      if (!state) {
        state = watch(options.consul, service);
        watches.set(service, state);
      }
      return state.instances ?? state.first;
    },
    close() {
      stop.abort();
      watches.clear();
    },
  };
}
