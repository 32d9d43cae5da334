// The only file of the gpu-jobs service that touches the process: environment, listen, signals.
import { createLogger, exitOnStartupError, loadEnv, registerPoolMetrics, serveUntilSignalled } from "@fundament/kit";
import { buildApp } from "./app";
import { connectDependencies } from "./dependencies";
import { gpuJobsEnv } from "./service-env";

async function main(): Promise<void> {
  const config = loadEnv(gpuJobsEnv);
  const logger = createLogger({ service: "gpu-jobs", level: config.LOG_LEVEL });
  const deps = await connectDependencies(config, logger);
  const { app } = await buildApp(deps);
  registerPoolMetrics(app.kit.metrics, deps.pool);
  await serveUntilSignalled(app, "gpu-jobs", config, logger);
}

main().catch(exitOnStartupError);
