import type { DeployedWorkload, Workload } from "../../runtime/workload";
import { EXPORTER_IMAGE_USER } from "./postgres-images";

/** What the PostgreSQL and PgBouncer exporters share: the prometheuscommunity image's user, its metrics port, its probes. */
export type ExporterSidecar = Pick<
  Workload,
  "zones" | "ports" | "health" | "resources" | "stopGracePeriodSeconds" | "metrics" | "user" | "readOnlyRootFilesystem" | "dependsOn"
>;

/**
 * An exporter beside `server`: it reads the server over the backend zone and offers its metrics
 * port to the monitoring zone only. Its root page answers once the process listens; whether the
 * server is reachable shows in the metrics (`*_up`), so an outage of the server does not restart it.
 */
export function exporterSidecar(port: number, memoryMiB: number, server: DeployedWorkload): ExporterSidecar {
  return {
    zones: ["backend", "monitoring"],
    ports: [{ name: "metrics", port, zones: ["monitoring"] }],
    health: {
      readiness: { kind: "http", port, path: "/", periodSeconds: 15 },
      liveness: { kind: "http", port, path: "/", periodSeconds: 30, failureThreshold: 4 },
    },
    resources: { cpu: 0.1, memoryMiB },
    stopGracePeriodSeconds: 10,
    metrics: { port, path: "/metrics" },
    user: EXPORTER_IMAGE_USER,
    readOnlyRootFilesystem: true,
    dependsOn: [server],
  };
}
