// The image's build step: src/server.ts and src/migrate.ts into dist/*.js with esbuild alone.
// The @fundament/kit workspace is TypeScript source and goes into the bundle; every other
// package stays external and comes from the runtime stage's production node_modules.
import { build } from "esbuild";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const outdir = process.argv[2] ?? join(root, "dist");

await build({
  entryPoints: { server: join(root, "src/server.ts"), migrate: join(root, "src/migrate.ts") },
  outdir,
  bundle: true,
  platform: "node",
  target: "node20",
  format: "cjs",
  sourcemap: true,
  logLevel: "warning",
  plugins: [
    {
      name: "workspace-only",
      setup(b) {
        b.onResolve({ filter: /^[^./]/ }, (args) => (args.path.startsWith("@fundament/") ? undefined : { path: args.path, external: true }));
      },
    },
  ],
});
process.stdout.write(`gpu-jobs bundled into ${outdir}\n`);
