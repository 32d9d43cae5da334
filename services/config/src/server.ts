import { createLogger, exitOnSignals, exitOnStartupError, loadEnv, registerPoolMetrics, startServer } from "@fundament/kit";
import { buildApp } from "./app";
import { connectDependencies } from "./dependencies";
import { configServiceEnv } from "./service-env";

async function main(): Promise<void> {
  const config = loadEnv(configServiceEnv);
  const logger = createLogger({ service: "config", level: config.LOG_LEVEL });
  const deps = await connectDependencies(config, logger);
  const app = await buildApp(deps);
  registerPoolMetrics(app.kit.metrics, deps.pool);
  const running = await startServer(app, { port: config.PORT, metricsPort: config.METRICS_PORT, probePeriodMs: config.SHUTDOWN_PROBE_PERIOD_MS });
  exitOnSignals(running, { gracePeriodMs: config.SHUTDOWN_GRACE_PERIOD_MS, log: logger });
}

main().catch(exitOnStartupError);
