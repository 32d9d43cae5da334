export * from "./fastify-service";
export * from "./service-image";
export * from "./service-settings";
export * from "./token-signing-keys";
export * from "./gpu-jobs-access";
export * from "./service-broker";
export * from "./long-poll-routes";
