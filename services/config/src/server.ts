// The only file of the config service that touches the process: environment, listen, signals.
import { createLogger, exitOnStartupError, loadEnv, registerPoolMetrics, serveUntilSignalled } from "@fundament/kit";
import { buildApp } from "./app";
import { connectDependencies } from "./dependencies";
import { configServiceEnv } from "./service-env";

async function main(): Promise<void> {
  const config = loadEnv(configServiceEnv);
  const logger = createLogger({ service: "config", level: config.LOG_LEVEL });
  const deps = await connectDependencies(config, logger);
  const app = await buildApp(deps);
  registerPoolMetrics(app.kit.metrics, deps.pool);
  await serveUntilSignalled(app, "config", config, logger);
}

main().catch(exitOnStartupError);
