export * from "./aws/eks-cluster";
export * from "./aws/vpc";
export * from "./aws/subnet-plan";
export * from "./aws/iam-documents";
export * from "./aws/addon-versions";
export * from "./aws/service-range";
