import { consulConnectionFromEnv, createLogger, exitOnSignals, exitOnStartupError, loadEnv, registerPoolMetrics, startServer } from "@fundament/kit";
import { buildApp } from "./app";
import { connectDependencies } from "./dependencies";
import { configServiceEnv } from "./service-env";

async function main(): Promise<void> {
  const config = loadEnv(configServiceEnv);
  const logger = createLogger({ service: "config", level: config.LOG_LEVEL });
  const deps = await connectDependencies(config, logger);
  const app = await buildApp(deps);
  registerPoolMetrics(app.kit.metrics, deps.pool);
  // CA, client certificate and key for Consul's HTTPS API, read once.
  const consulTls = consulConnectionFromEnv(config)?.tls;
  const running = await startServer(app, {
    port: config.PORT,
    host: config.HOST,
    metricsPort: config.METRICS_PORT,
    probePeriodMs: config.SHUTDOWN_PROBE_PERIOD_MS,
    ...(config.CONSUL_HTTP_ADDR === undefined
      ? {}
      : {
          consul: {
            agentUrl: config.CONSUL_HTTP_ADDR,
            service: "config",
            ...(config.CONSUL_SERVICE_ADDRESS === undefined ? {} : { address: config.CONSUL_SERVICE_ADDRESS }),
            ...(config.CONSUL_HTTP_TOKEN === undefined ? {} : { token: config.CONSUL_HTTP_TOKEN }),
            ...(consulTls === undefined ? {} : { tls: consulTls }),
            meta: { metrics_port: String(config.METRICS_PORT) },
          },
        }),
  });
  exitOnSignals(running, { gracePeriodMs: config.SHUTDOWN_GRACE_PERIOD_MS, log: logger });
}

main().catch(exitOnStartupError);
