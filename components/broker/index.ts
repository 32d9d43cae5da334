export * from "./broker-model";
export * from "./rabbitmq-conf";
export * from "./rabbitmq-definitions";
export * from "./rabbitmq-permissions";
export * from "./rabbitmq";
export * from "./rabbitmq-start";
