import { Type } from "@fundament/kit";

const ProviderName = Type.Union([Type.Literal("aws"), Type.Literal("runpod"), Type.Literal("vastai"), Type.Literal("lambda"), Type.Literal("paperspace"), Type.Literal("genesis"), Type.Literal("local")]);
const ProjectName = Type.String({ pattern: "^[a-z0-9][a-z0-9-]{0,62}$", description: "project the job is billed to" });
const EnvName = "^[A-Za-z_][A-Za-z0-9_]{0,127}$";
export const ENV_NAME = new RegExp(EnvName);

export const EnvironmentValue = Type.Union([
  Type.Object({ value: Type.String({ maxLength: 32768 }) }, { additionalProperties: false }),
  Type.Object({ secretRef: Type.String({ pattern: "^[a-z0-9][a-z0-9._-]{0,127}$", description: "name of a secret file the service holds" }) }, { additionalProperties: false }),
]);

export const GpuRequestBody = Type.Object(
  {
    gpuCount: Type.Integer({ minimum: 1, maximum: 16 }),
    minGpuMemoryGiB: Type.Number({ minimum: 0, maximum: 1024 }),
    gpuModels: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { minItems: 1, maxItems: 32 })),
    regions: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { minItems: 1, maxItems: 32 })),
    spot: Type.Union([Type.Literal("allow"), Type.Literal("deny"), Type.Literal("only")]),
  },
  { additionalProperties: false },
);

export const SubmitBody = Type.Object(
  {
    project: ProjectName,
    image: Type.String({ minLength: 1, maxLength: 512, pattern: "^[a-z0-9][a-z0-9._/:@-]*$" }),
    command: Type.Array(Type.String({ maxLength: 4096 }), { minItems: 1, maxItems: 256 }),
    environment: Type.Optional(Type.Record(Type.String({ pattern: EnvName }), EnvironmentValue)),
    gpu: GpuRequestBody,
    maxPricePerHour: Type.Number({ exclusiveMinimum: 0, maximum: 1000 }),
    estimatedHours: Type.Number({ exclusiveMinimum: 0, maximum: 8760 }),
    deadline: Type.Optional(Type.String({ format: "date-time" })),
  },
  { additionalProperties: false },
);

export const AttemptBody = Type.Object({
  attempt: Type.Integer(),
  provider: ProviderName,
  offerId: Type.String(),
  gpuModel: Type.String(),
  pricePerHour: Type.Number(),
  outcome: Type.String(),
  reason: Type.Union([Type.String(), Type.Null()]),
  detail: Type.Union([Type.String(), Type.Null()]),
  instanceId: Type.Union([Type.String(), Type.Null()]),
  startedAt: Type.String(),
  finishedAt: Type.Union([Type.String(), Type.Null()]),
});

export const JobBody = Type.Object(
  {
    id: Type.String({ format: "uuid" }),
    project: Type.String(),
    submittedBy: Type.String(),
    image: Type.String(),
    command: Type.Array(Type.String()),
    environment: Type.Record(Type.String(), EnvironmentValue),
    gpu: Type.Unknown(),
    maxPricePerHour: Type.Number(),
    estimatedHours: Type.Number(),
    reservedUsd: Type.Number(),
    deadline: Type.Union([Type.String(), Type.Null()]),
    state: Type.String(),
    stateReason: Type.Union([Type.String(), Type.Null()]),
    provider: Type.Union([ProviderName, Type.Null()]),
    instanceId: Type.Union([Type.String(), Type.Null()]),
    pricePerHour: Type.Union([Type.Number(), Type.Null()]),
    costUsd: Type.Number({ description: "cost so far (running) or final" }),
    createdAt: Type.String(),
    startedAt: Type.Union([Type.String(), Type.Null()]),
    finishedAt: Type.Union([Type.String(), Type.Null()]),
    attempts: Type.Optional(Type.Array(AttemptBody)),
  },
  { title: "Job" },
);

export const JobParams = Type.Object({ id: Type.String({ format: "uuid" }) });

export const ListQuery = Type.Object(
  {
    project: Type.Optional(ProjectName),
    state: Type.Optional(
      Type.Union([Type.Literal("queued"), Type.Literal("placing"), Type.Literal("running"), Type.Literal("cancelling"), Type.Literal("succeeded"), Type.Literal("failed"), Type.Literal("cancelled")]),
    ),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
  },
  { additionalProperties: false },
);
