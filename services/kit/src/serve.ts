import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import type { FastifyInstance } from "fastify";
import { registerWithConsul, type ConsulRegistration, type ConsulRegistrationOptions } from "./consul";
import { consulConnectionFromEnv, type ConsulEnvValues } from "./consul-env";
import { EnvError } from "./env";
import { startMetricsServer, type MetricsServer } from "./metrics";
import { serverTlsFromEnv, type ServerTlsEnvValues } from "./server-tls";

/**
 * How long a service keeps an idle keep-alive connection (Fastify's own default; Node's is 5 s).
 * Longer than the gateway keeps one (components/edge BACKEND_IDLE_TIMEOUT_SECONDS), so the gateway
 * is the side that closes it, never a service under a request the gateway is sending.
 */
export const KEEP_ALIVE_TIMEOUT_MS = 72_000;

export interface ServeOptions {
  port: number;
  host?: string;
  /** Port of the separate /metrics listener; omitted means no metrics listener. */
  metricsPort?: number;
  /**
   * How long readiness reports 503 before the listener closes: one readiness probe period,
   * so the orchestrator and the gateway stop routing here first.
   */
  probePeriodMs: number;
  /** Called right after readiness turns 503. */
  onDrain?: () => Promise<unknown>;
  /**
   * Registers with the local Consul agent once listening (port filled in) and deregisters as
   * soon as shutdown starts, so discovery stops handing out this instance first.
   */
  consul?: Omit<ConsulRegistrationOptions, "port"> & { port?: number };
  /**
   * Serve HTTPS with this certificate and key (PEM): the platform CA's leaf for the service, so
   * the hop from the gateway is encrypted and verified. The metrics listener serves HTTPS with the
   * same leaf (Prometheus verifies it against the CA), and Consul's check polls over https.
   */
  tls?: { cert: string; key: string };
  /** A DNS name the leaf carries, which Consul's check verifies: it dials an address, not a name. */
  tlsServerName?: string;
}

export interface RunningServer {
  readonly url: string;
  readonly metricsUrl: string | undefined;
  /** Readiness 503, wait one probe period, stop accepting, finish in-flight requests, close dependencies. */
  shutdown(reason: string): Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function startServer(app: FastifyInstance, options: ServeOptions): Promise<RunningServer> {
  const host = options.host ?? "0.0.0.0";
  let https: HttpsServer | undefined;
  let port: number;
  if (options.tls) {
    // Fastify's own server is plain HTTP; its router serves the TLS listener's requests, so every
    // hook, the 503-on-closing answer included, behaves as it does on the plain one. Fastify waits
    // for in-flight requests only on its own server, between its preClose and onClose hooks. So
    // the TLS listener stops accepting in a preClose (after the app's own, which end long polls),
    // and an onClose registered after the app's (onClose runs last registered first) waits for
    // its in-flight requests before the closers end a pool or a client under them. Not awaited in
    // preClose: those hooks time out after Fastify's pluginTimeout (10 s), a slow drain would not.
    let listenerClosed: Promise<void> | undefined;
    app.addHook("preClose", async () => {
      listenerClosed = closeHttps(https);
    });
    app.addHook("onClose", async () => {
      await (listenerClosed ?? closeHttps(https));
    });
    await app.ready();
    const server = createHttpsServer({ cert: options.tls.cert, key: options.tls.key, minVersion: "TLSv1.2" }, (req, res) => app.routing(req, res));
    server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port, host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    https = server;
    port = (server.address() as AddressInfo).port;
  } else {
    await app.listen({ port: options.port, host });
    port = (app.server.address() as AddressInfo).port;
  }
  let metrics: MetricsServer | undefined;
  if (options.metricsPort !== undefined) {
    try {
      metrics = await startMetricsServer(app.kit.metrics, options.metricsPort, host, options.tls);
    } catch (error) {
      await app.close();
      throw error;
    }
  }
  const shown = host === "0.0.0.0" ? "127.0.0.1" : host;
  let consul: ConsulRegistration | undefined;
  if (options.consul) {
    try {
      consul = await registerWithConsul({
        ...options.consul,
        port: options.consul.port ?? port,
        ...(https ? { checkScheme: "https" as const, ...(options.tlsServerName === undefined ? {} : { checkTlsServerName: options.tlsServerName }) } : {}),
      });
    } catch (error) {
      await metrics?.close();
      await app.close();
      throw error;
    }
    app.log.info({ consulId: consul.id }, "registered with consul");
  }
  let stopping: Promise<void> | undefined;
  const running: RunningServer = {
    url: `${https ? "https" : "http"}://${shown}:${port}`,
    metricsUrl: metrics ? `${https ? "https" : "http"}://${shown}:${metrics.port}/metrics` : undefined,
    shutdown(reason) {
      stopping ??= (async () => {
        app.log.info({ reason, probePeriodMs: options.probePeriodMs }, "shutdown: readiness now 503");
        app.kit.readiness.drain();
        if (consul) await consul.deregister().catch((err: unknown) => app.log.warn({ err }, "shutdown: consul deregistration failed"));
        if (options.onDrain) {
          await options.onDrain().catch((err: unknown) => app.log.warn({ err }, "shutdown: drain hook failed"));
        }
        await sleep(options.probePeriodMs);
        app.log.info("shutdown: closing listener, finishing in-flight requests");
        await app.close();
        await metrics?.close();
        app.log.info("shutdown: complete");
      })();
      return stopping;
    },
  };
  app.log.info({ url: running.url, metrics: running.metricsUrl }, "listening");
  return running;
}

/** Stops accepting, lets in-flight requests finish, then ends the idle keep-alive connections. */
async function closeHttps(server: HttpsServer | undefined): Promise<void> {
  if (!server) return;
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  // A keep-alive connection that turns idle after close() would hold it open until its timeout.
  const sweep = setInterval(() => server.closeIdleConnections(), 100);
  try {
    await closed;
  } finally {
    clearInterval(sweep);
  }
}

/** Where shutdown reports; a pino logger is one. */
export interface ShutdownLog {
  info: (o: object, m: string) => void;
  error: (o: object, m: string) => void;
}

/**
 * Wires SIGTERM and SIGINT to a graceful shutdown that exits 0, or 1 when it outlives
 * `gracePeriodMs` (the orchestrator would SIGKILL soon after anyway).
 */
export function exitOnSignals(running: RunningServer, options: { gracePeriodMs: number; log: ShutdownLog }): void {
  const onSignal = (signal: NodeJS.Signals) => {
    const timer = setTimeout(() => {
      options.log.error({ signal, gracePeriodMs: options.gracePeriodMs }, "shutdown: grace period exceeded, exiting");
      process.exit(1);
    }, options.gracePeriodMs);
    timer.unref();
    running.shutdown(signal).then(
      () => process.exit(0),
      (err: unknown) => {
        options.log.error({ err }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.once("SIGTERM", onSignal);
  process.once("SIGINT", onSignal);
}

/**
 * The variables a service's start-up reads. Each service declares them in its own env spec (with
 * its own defaults, the Consul ones from the kit's consulEnv); these are the names and types the
 * kit relies on.
 */
export interface ServeEnv extends ConsulEnvValues, ServerTlsEnvValues {
  PORT: number;
  HOST: string;
  METRICS_PORT: number;
  SHUTDOWN_PROBE_PERIOD_MS: number;
  SHUTDOWN_GRACE_PERIOD_MS: number;
  CONSUL_SERVICE_ADDRESS?: string | undefined;
}

/**
 * How `service` listens, drains and registers, from its validated environment. HTTPS when
 * TLS_CERT_FILE and TLS_KEY_FILE are set (Consul's check then verifies TLS_SERVER_NAME, by default
 * the service's name, which its leaf carries on both targets). Registration is off when
 * CONSUL_HTTP_ADDR is unset; over HTTPS, Consul's CA and client certificate files are read here, once.
 */
export function serveOptionsFrom(service: string, config: ServeEnv): ServeOptions {
  const tls = serverTlsFromEnv(config);
  const options: ServeOptions = {
    port: config.PORT,
    host: config.HOST,
    metricsPort: config.METRICS_PORT,
    probePeriodMs: config.SHUTDOWN_PROBE_PERIOD_MS,
    ...(tls ? { tls, tlsServerName: config.TLS_SERVER_NAME ?? service } : {}),
  };
  const connection = consulConnectionFromEnv(config);
  if (connection === undefined) return options;
  return {
    ...options,
    consul: {
      agentUrl: connection.url,
      service,
      ...(config.CONSUL_SERVICE_ADDRESS === undefined ? {} : { address: config.CONSUL_SERVICE_ADDRESS }),
      ...(connection.token === undefined ? {} : { token: connection.token }),
      ...(connection.tls === undefined ? {} : { tls: connection.tls }),
      // Prometheus' Consul discovery finds the separate metrics listener through this.
      meta: { metrics_port: String(config.METRICS_PORT) },
    },
  };
}

/**
 * A service process's last start-up step: listen (and register with Consul) as its environment
 * says, then shut down gracefully on SIGTERM/SIGINT within SHUTDOWN_GRACE_PERIOD_MS.
 */
export async function serveUntilSignalled(app: FastifyInstance, service: string, config: ServeEnv, log: ShutdownLog): Promise<RunningServer> {
  const running = await startServer(app, serveOptionsFrom(service, config));
  exitOnSignals(running, { gracePeriodMs: config.SHUTDOWN_GRACE_PERIOD_MS, log });
  return running;
}

/** Start-up failed: an invalid environment prints its list of problems; anything else its error. Exit 1. */
export function exitOnStartupError(error: unknown): never {
  if (error instanceof EnvError) {
    process.stderr.write(`${error.message}\n`);
  } else {
    process.stderr.write(`start-up failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  }
  process.exit(1);
}
