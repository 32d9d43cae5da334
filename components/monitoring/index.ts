export { Monitoring, MonitoringArgs, MonitoringUi } from "./monitoring";
export { ScrapeTarget, ScrapeTargetRegistry } from "./scrape-targets";
export { OTLP_HTTP_ENDPOINT } from "./monitoring-workloads";
