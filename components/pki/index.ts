export * from "./dns-names";
export * from "./platform-pki";
export * from "./tls-files";
