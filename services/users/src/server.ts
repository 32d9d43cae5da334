// The only file of the users service that touches the process: environment, listen, signals.
import { exitOnStartupError, serveUntilSignalled } from "@fundament/kit";
import { buildApp } from "./app";
import { loadUsersConfig } from "./config";
import { connectDependencies, keyFileReload } from "./dependencies";

async function main(): Promise<void> {
  const config = loadUsersConfig(process.env);
  const deps = await connectDependencies(config);
  deps.keyReload = keyFileReload(process.env, config.JWT_KEYS_RELOAD_SECONDS * 1000);
  const app = await buildApp(deps);
  await serveUntilSignalled(app, "users", config, deps.logger);
}

main().catch(exitOnStartupError);
