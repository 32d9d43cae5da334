// Image build step: the kit's package.json points at its TypeScript sources for tsx and vitest;
// in the image it must point at the JavaScript tsc emitted into dist/.
const { readFileSync, writeFileSync } = require("node:fs");

const path = process.argv[2];
const pkg = JSON.parse(readFileSync(path, "utf8"));
const toDist = (target) => target.replace(/^(\.\/)?src\//, "./dist/").replace(/\.ts$/, ".js");
pkg.main = toDist(pkg.main);
pkg.types = pkg.main.replace(/\.js$/, ".d.ts");
pkg.exports = Object.fromEntries(
  Object.entries(pkg.exports).map(([subpath, target]) => [subpath, { types: toDist(target).replace(/\.js$/, ".d.ts"), default: toDist(target) }]),
);
writeFileSync(path, `${JSON.stringify(pkg, null, 2)}\n`);
