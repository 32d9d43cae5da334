import { PlatformPki } from "../pki";
import { childOf, LayerScope } from "./layer-scope";

/**
 * The platform CA, named for the target's DNS: every layer above asks it for its servers'
 * certificates and hands its clients the CA file.
 */
export function wirePki(scope: LayerScope): PlatformPki {
  const { config } = scope;
  return new PlatformPki(
    "pki",
    {
      naming: config.target === "docker" ? { target: "docker" } : { target: "kubernetes", namespace: config.kubernetes.namespace },
      settings: config.tls,
    },
    childOf(scope),
  );
}
