export * from "./gateway";
export * from "./gateway-workload";
export * from "./route-registry";
export * from "./traefik-config-types";
export * from "./traefik-dynamic";
export * from "./traefik-static";
export * from "./gateway-layer";
