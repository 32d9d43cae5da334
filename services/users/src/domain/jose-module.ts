/**
 * jose 6 ships only as an ES module. This package is CommonJS (module node16), where a static
 * import would compile to require(); a dynamic import() stays an import in both tsx and tsc output.
 */
export type Jose = typeof import("jose", { with: { "resolution-mode": "import" } });
export type JWK = import("jose", { with: { "resolution-mode": "import" } }).JWK;
export type JWTHeaderParameters = import("jose", { with: { "resolution-mode": "import" } }).JWTHeaderParameters;

let loaded: Promise<Jose> | undefined;

export function loadJose(): Promise<Jose> {
  loaded ??= import("jose");
  return loaded;
}
