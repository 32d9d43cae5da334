// The only file of the users service that touches the process: environment, listen, signals.
import { exitOnStartupError, serveUntilSignalled } from "@fundament/kit";
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
      return loadTokenKeys(fresh.JWT_SIGNING_KEY, fresh.JWT_PREVIOUS_PUBLIC_KEYS ?? "", fresh.JWT_NEXT_PUBLIC_KEYS ?? "");
    },
  };
  const app = await buildApp(deps);
  await serveUntilSignalled(app, "users", config, deps.logger);
}

main().catch(exitOnStartupError);
