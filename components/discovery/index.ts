export * from "./catalog-entries";
export * from "./consul-acl";
export * from "./consul-acl-job";
export * from "./consul-config";
export * from "./consul";
export * from "./consul-clients";
