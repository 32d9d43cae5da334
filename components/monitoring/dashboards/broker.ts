import type { Dashboard } from "@grafana/schema";
import { dashboard, stat, timeseries } from "./panels";

/** RabbitMQ from its own per-object metrics (prometheus.return_per_object_metrics). */
export const broker: Dashboard = dashboard("fundament-broker", "Broker", "RabbitMQ queues, dead letters and alarms", [
  stat("Memory alarm", "none", [{ expr: "max(rabbitmq_alarms_memory_used_watermark)", legend: "alarm" }]),
  stat("Disk alarm", "none", [{ expr: "max(rabbitmq_alarms_free_disk_space_watermark)", legend: "alarm" }]),
  timeseries("Ready messages per queue", "none", [{ expr: 'sum by (queue) (rabbitmq_queue_messages_ready{queue!~".+\\\\.dlq"})', legend: "{{queue}}" }]),
  timeseries("Dead letters per queue", "none", [{ expr: 'sum by (queue) (rabbitmq_queue_messages{queue=~".+\\\\.dlq"})', legend: "{{queue}}" }]),
  timeseries("Unacknowledged per queue", "none", [{ expr: "sum by (queue) (rabbitmq_queue_messages_unacked)", legend: "{{queue}}" }]),
  timeseries("Consumers per queue", "none", [{ expr: "sum by (queue) (rabbitmq_queue_consumers)", legend: "{{queue}}" }]),
  timeseries("Connections", "none", [{ expr: "sum(rabbitmq_connections)", legend: "connections" }]),
  timeseries("Memory used", "bytes", [{ expr: "sum by (instance) (rabbitmq_process_resident_memory_bytes)", legend: "{{instance}}" }]),
]);
