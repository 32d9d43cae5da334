import { stringify } from "yaml";

export const JAEGER_PORTS = { otlpGrpc: 4317, otlpHttp: 4318, ui: 16686, health: 13133, metrics: 8888 } as const;
/** Badger's directories live on the workload's volume (see jaegerWorkload for why /tmp). */
export const JAEGER_DATA_DIR = "/tmp";

export interface JaegerConfigInput {
  /** Hours a span is kept before badger drops it. */
  retentionHours: number;
}

/**
 * Jaeger v2 (an OpenTelemetry Collector distribution): OTLP gRPC and HTTP in, badger on the
 * workload's volume, the query UI, a health endpoint for probes and its own metrics for
 * Prometheus. Every listener is explicit: the image's defaults bind some to localhost.
 */
export function renderJaegerConfig(input: JaegerConfigInput): string {
  const allInterfaces = (port: number) => `0.0.0.0:${port}`;
  const config = {
    service: {
      extensions: ["jaeger_storage", "jaeger_query", "healthcheckv2"],
      pipelines: { traces: { receivers: ["otlp"], processors: ["batch"], exporters: ["jaeger_storage_exporter"] } },
      telemetry: {
        resource: { "service.name": "jaeger" },
        metrics: { level: "detailed", readers: [{ pull: { exporter: { prometheus: { host: "0.0.0.0", port: JAEGER_PORTS.metrics } } } }] },
        logs: { level: "info" },
      },
    },
    extensions: {
      healthcheckv2: { use_v2: true, http: { endpoint: allInterfaces(JAEGER_PORTS.health) } },
      jaeger_query: { storage: { traces: "traces" }, http: { endpoint: allInterfaces(JAEGER_PORTS.ui) } },
      jaeger_storage: {
        backends: {
          traces: {
            badger: {
              directories: { keys: `${JAEGER_DATA_DIR}/keys`, values: `${JAEGER_DATA_DIR}/values` },
              ephemeral: false,
              ttl: { spans: `${input.retentionHours}h` },
            },
          },
        },
      },
    },
    receivers: { otlp: { protocols: { grpc: { endpoint: allInterfaces(JAEGER_PORTS.otlpGrpc) }, http: { endpoint: allInterfaces(JAEGER_PORTS.otlpHttp) } } } },
    processors: { batch: {} },
    exporters: { jaeger_storage_exporter: { trace_storage: "traces" } },
  };
  return `# Rendered by fundament (components/monitoring/jaeger-config.ts).\n${stringify(config, { lineWidth: 0 })}`;
}
