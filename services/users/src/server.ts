// The only file of the users service that touches the process: environment, listen, signals.
import { consulConnectionFromEnv, exitOnSignals, exitOnStartupError, startServer } from "@fundament/kit";
import { buildApp } from "./app";
import { loadUsersConfig } from "./config";
import { connectDependencies } from "./dependencies";
import { loadTokenKeys } from "./domain/token-keys";

async function main(): Promise<void> {
  const config = loadUsersConfig(process.env);
  const deps = await connectDependencies(config);
  deps.keyReload = {
    everyMs: config.JWT_KEYS_RELOAD_SECONDS * 1000,
    // The same files as at start (mounted secrets are updated in place on a rotation).
    load: async () => {
      const fresh = loadUsersConfig(process.env);
      return loadTokenKeys(fresh.JWT_SIGNING_KEY, fresh.JWT_PREVIOUS_PUBLIC_KEYS ?? "");
    },
  };
  const app = await buildApp(deps);
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
            service: "users",
            ...(config.CONSUL_SERVICE_ADDRESS === undefined ? {} : { address: config.CONSUL_SERVICE_ADDRESS }),
            ...(config.CONSUL_HTTP_TOKEN === undefined ? {} : { token: config.CONSUL_HTTP_TOKEN }),
            ...(consulTls === undefined ? {} : { tls: consulTls }),
            meta: { metrics_port: String(config.METRICS_PORT) },
          },
        }),
  });
  exitOnSignals(running, { gracePeriodMs: config.SHUTDOWN_GRACE_PERIOD_MS, log: deps.logger });
}

main().catch(exitOnStartupError);
