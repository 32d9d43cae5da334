import type { GpuRequest, Provider } from "../placement/rank-offers";

export type JobState = "queued" | "placing" | "running" | "cancelling" | "succeeded" | "failed" | "cancelled";
export const ACTIVE_STATES: readonly JobState[] = ["queued", "placing", "running", "cancelling"];

/** A plain value, or the name of a secret file the service holds; the value of a secret never reaches the database. */
export type EnvironmentValue = { value: string } | { secretRef: string };

export interface JobSubmission {
  project: string;
  image: string;
  command: string[];
  environment: Record<string, EnvironmentValue>;
  gpu: Omit<GpuRequest, "maxPricePerHour" | "estimatedHours">;
  maxPricePerHour: number;
  estimatedHours: number;
  deadline?: string;
}

export interface AttemptRecord {
  attempt: number;
  provider: Provider;
  offerId: string;
  gpuModel: string;
  pricePerHour: number;
  idempotencyKey: string;
  outcome: "pending" | "launched" | "failed";
  reason: string | null;
  detail: string | null;
  instanceId: string | null;
  startedAt: string;
  finishedAt: string | null;
}

export interface JobRecord {
  id: string;
  project: string;
  submittedBy: string;
  image: string;
  command: string[];
  environment: Record<string, EnvironmentValue>;
  request: GpuRequest;
  maxPricePerHour: number;
  estimatedHours: number;
  reservedUsd: number;
  deadline: string | null;
  state: JobState;
  stateReason: string | null;
  provider: Provider | null;
  offerId: string | null;
  instanceId: string | null;
  pricePerHour: number | null;
  startedAt: string | null;
  finishedAt: string | null;
  costUsd: number;
  createdAt: string;
  updatedAt: string;
}
