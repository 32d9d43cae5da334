import { AlwaysOffSampler, AlwaysOnSampler, ParentBasedSampler, TraceIdRatioBasedSampler, type Sampler } from "@opentelemetry/sdk-trace-base";
import { env } from "./env";
import { startTracing, type Tracing } from "./tracing";

/** OpenTelemetry's names for the samplers (OTEL_TRACES_SAMPLER), those that need no extra component. */
export const TRACE_SAMPLERS = ["parentbased_traceidratio", "parentbased_always_on", "parentbased_always_off", "traceidratio", "always_on", "always_off"] as const;
export type TraceSamplerName = (typeof TRACE_SAMPLERS)[number];

/**
 * The tracing variables every service reads, under OpenTelemetry's own names. Read here rather
 * than left to the SDK: the SDK falls back to recording every trace on a sampler name or ratio it
 * cannot read and says so only through its diagnostic logger, which nobody sees; here a bad value
 * stops the service at start-up, naming the variable.
 */
export const tracingEnv = {
  OTEL_EXPORTER_OTLP_ENDPOINT: env.optional(env.url({ protocols: ["http", "https"], description: "OTLP/HTTP endpoint (Jaeger :4318); tracing is off when unset" })),
  OTEL_TRACES_SAMPLER: env.oneOf(TRACE_SAMPLERS, {
    default: "parentbased_traceidratio",
    description: "which traces are recorded; parentbased_*: a request whose caller recorded its trace is recorded, one whose caller did not is not, and the rest decides for traces this service starts",
  }),
  OTEL_TRACES_SAMPLER_ARG: env.number({ min: 0, max: 1, default: 1, description: "the share of traces recorded by the *traceidratio samplers, 0 to 1" }),
};

export interface TracingEnvValues {
  OTEL_EXPORTER_OTLP_ENDPOINT?: string | undefined;
  OTEL_TRACES_SAMPLER: TraceSamplerName;
  OTEL_TRACES_SAMPLER_ARG: number;
}

/** The sampler an OTEL_TRACES_SAMPLER name and ratio stand for, as the OpenTelemetry specification defines them. */
export function traceSampler(name: TraceSamplerName, ratio: number): Sampler {
  switch (name) {
    case "always_on":
      return new AlwaysOnSampler();
    case "always_off":
      return new AlwaysOffSampler();
    case "traceidratio":
      return new TraceIdRatioBasedSampler(ratio);
    case "parentbased_always_on":
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case "parentbased_always_off":
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case "parentbased_traceidratio":
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) });
  }
}

/** This service's tracing as the variables describe it, or undefined when no endpoint is set. */
export function tracingFromEnv(service: string, values: TracingEnvValues): Tracing | undefined {
  if (values.OTEL_EXPORTER_OTLP_ENDPOINT === undefined) return undefined;
  return startTracing({
    service,
    endpoint: values.OTEL_EXPORTER_OTLP_ENDPOINT,
    sampler: traceSampler(values.OTEL_TRACES_SAMPLER, values.OTEL_TRACES_SAMPLER_ARG),
  });
}
