import { Probe } from "./workload";

/**
 * Docker runs one healthcheck command inside the container. HTTP and TCP probes become a
 * shell test using whichever client the image ships (wget in busybox/alpine images, curl in
 * Debian ones, node's fetch in the services' slim Node images, bash's /dev/tcp for plain
 * ports); images with none should use exec probes.
 */
export function dockerHealthTest(probe: Probe): string[] {
  switch (probe.kind) {
    case "exec":
      return ["CMD", ...probe.command];
    case "http": {
      const url = `http://127.0.0.1:${probe.port}${probe.path}`;
      const nodeFetch = `node -e "fetch('${url}').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"`;
      return [
        "CMD-SHELL",
        `if command -v wget >/dev/null; then wget -q -O /dev/null ${url}; elif command -v curl >/dev/null; then curl -fsS -o /dev/null ${url}; else ${nodeFetch}; fi`,
      ];
    }
    case "tcp":
      return ["CMD-SHELL", `bash -c 'exec 3<>/dev/tcp/127.0.0.1/${probe.port}' || exit 1`];
  }
}

export const PROBE_DEFAULTS = { periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 3, initialDelaySeconds: 0 };

export function probeTiming(probe: Probe): typeof PROBE_DEFAULTS {
  return {
    periodSeconds: probe.periodSeconds ?? PROBE_DEFAULTS.periodSeconds,
    timeoutSeconds: probe.timeoutSeconds ?? PROBE_DEFAULTS.timeoutSeconds,
    failureThreshold: probe.failureThreshold ?? PROBE_DEFAULTS.failureThreshold,
    initialDelaySeconds: probe.initialDelaySeconds ?? PROBE_DEFAULTS.initialDelaySeconds,
  };
}

/** How long a workload may take to start before its health counts: the startup probe's budget. */
export function startupBudgetSeconds(probe: Probe | undefined): number {
  if (!probe) return 30;
  const timing = probeTiming(probe);
  return timing.initialDelaySeconds + timing.periodSeconds * timing.failureThreshold;
}
