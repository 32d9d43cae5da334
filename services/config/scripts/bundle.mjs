// Bundles the service for its image: src/server.ts and src/migrate.ts become dist/*.js.
// Plain JavaScript so the image's build stage needs only esbuild, not a TypeScript runner.
// @fundament/* workspaces are TypeScript sources and are bundled in; every other package stays
// external and comes from the production-only node_modules of the runtime stage.
import { build } from "esbuild";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const serviceDir = join(dirname(fileURLToPath(import.meta.url)), "..");
const outdir = process.argv[2] ?? join(serviceDir, "dist");

const externalPackages = {
  name: "external-packages",
  setup(pluginBuild) {
    pluginBuild.onResolve({ filter: /^[^./]/ }, (args) => (args.path.startsWith("@fundament/") ? undefined : { path: args.path, external: true }));
  },
};

await build({
  entryPoints: { server: join(serviceDir, "src/server.ts"), migrate: join(serviceDir, "src/migrate.ts") },
  outdir,
  bundle: true,
  platform: "node",
  target: "node20",
  format: "cjs",
  sourcemap: true,
  logLevel: "warning",
  plugins: [externalPackages],
});
process.stdout.write(`bundled into ${outdir}\n`);
