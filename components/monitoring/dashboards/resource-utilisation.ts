import type { Dashboard } from "@grafana/schema";
import { dashboard, timeseries } from "./panels";

/**
 * CPU, memory, disk and network per workload (cAdvisor's container_* series, labelled by
 * container name on Docker) and per host (node-exporter).
 */
export const resourceUtilisation: Dashboard = dashboard("fundament-resources", "Resource utilisation", "CPU, memory, disk and network per workload and host", [
  timeseries("CPU per workload", "percentunit", [{ expr: 'sum by (name) (rate(container_cpu_usage_seconds_total{name!=""}[5m]))', legend: "{{name}}" }]),
  timeseries("Memory per workload", "bytes", [{ expr: 'sum by (name) (container_memory_working_set_bytes{name!=""})', legend: "{{name}}" }]),
  timeseries("Network received per workload", "Bps", [{ expr: 'sum by (name) (rate(container_network_receive_bytes_total{name!=""}[5m]))', legend: "{{name}}" }]),
  timeseries("Network sent per workload", "Bps", [{ expr: 'sum by (name) (rate(container_network_transmit_bytes_total{name!=""}[5m]))', legend: "{{name}}" }]),
  timeseries("Disk written per workload", "Bps", [{ expr: 'sum by (name) (rate(container_fs_writes_bytes_total{name!=""}[5m]))', legend: "{{name}}" }]),
  timeseries("Host CPU busy", "percentunit", [{ expr: '1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[5m]))', legend: "{{instance}}" }]),
  timeseries("Host memory available", "percentunit", [{ expr: "node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes", legend: "{{instance}}" }]),
  timeseries("Host filesystem free", "percentunit", [{ expr: 'node_filesystem_avail_bytes{fstype!~"tmpfs|overlay|squashfs|ramfs"} / node_filesystem_size_bytes', legend: "{{instance}} {{mountpoint}}" }]),
]);
