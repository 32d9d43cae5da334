export * from "./gpu-pools";
export * from "./cluster-charts";
export * from "./chart-versions";
export * from "./scheduling";
