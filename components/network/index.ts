export * from "./zones";
export * from "./zone-policies";
