import { ImageFacts } from "./image-facts";
import { HttpsProbe, Probe } from "./workload";

/** Which workload and image a probe is rendered for: named in every refusal. */
export interface ProbeSubject {
  workload: string;
  image: string;
  facts: ImageFacts;
}

/**
 * Docker runs one healthcheck command inside the container, so every program it calls must be
 * one the image ships (image-facts.ts). HTTP probes use wget, curl or node, whichever the image
 * has; TCP probes need bash for /dev/tcp (busybox nc lacks -z in several builds). The exec form
 * ("CMD") is used throughout so no probe depends on a shell it does not name.
 */
export function dockerHealthTest(probe: Probe, subject: ProbeSubject): string[] {
  const has = (program: string): boolean => subject.facts.programs.includes(program);
  const refuse = (needs: string): never => {
    const ships = subject.facts.programs.length > 0 ? subject.facts.programs.join(", ") : "no shell or client at all";
    throw new Error(
      `workload ${subject.workload}: its ${probe.kind} probe needs ${needs}, which image ${subject.image} does not ship (it has: ${ships}; ${subject.facts.source}). ` +
        `Use an exec probe with one of its programs, or dockerHealthcheck: "none" if it has none.`,
    );
  };
  switch (probe.kind) {
    case "exec": {
      const program = probe.command[0] ?? "";
      if (!has(program.split("/").pop() ?? program)) refuse(program === "" ? "a command" : program);
      return ["CMD", ...probe.command];
    }
    case "http": {
      if (probe.https) return httpsHealthTest(probe.port, probe.path, probe.https, has, refuse);
      const url = `http://127.0.0.1:${probe.port}${probe.path}`;
      if (has("wget")) return ["CMD", "wget", "-q", "-O", "/dev/null", url];
      if (has("curl")) return ["CMD", "curl", "-fsS", "-o", "/dev/null", url];
      if (has("node")) return ["CMD", "node", "-e", `fetch('${url}').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))`];
      return refuse("wget, curl or node");
    }
    case "tcp":
      if (has("bash")) return ["CMD", "bash", "-c", `exec 3<>/dev/tcp/127.0.0.1/${probe.port}`];
      return refuse("bash (for /dev/tcp)");
  }
}

/**
 * An HTTPS probe from inside the container that verifies the server as any client does: against
 * the CA file, for a name the leaf carries, while dialling the loopback address. curl pins the name
 * to 127.0.0.1 with --resolve; node passes it as the servername to check. wget is not used: the
 * busybox build has no option for a CA file.
 */
function httpsHealthTest(port: number, path: string, https: HttpsProbe, has: (program: string) => boolean, refuse: (needs: string) => never): string[] {
  if (has("curl")) return ["CMD", "curl", "-fsS", "-o", "/dev/null", "--cacert", https.caFile, "--resolve", `${https.serverName}:${port}:127.0.0.1`, `https://${https.serverName}:${port}${path}`];
  if (has("node")) {
    const options = JSON.stringify({ host: "127.0.0.1", port, path, servername: https.serverName, timeout: 5000 });
    const script = [
      `const o = ${options};`,
      `o.ca = require('fs').readFileSync(${JSON.stringify(https.caFile)});`,
      "require('https').get(o, (r) => process.exit(r.statusCode >= 200 && r.statusCode < 400 ? 0 : 1)).on('error', () => process.exit(1)).on('timeout', () => process.exit(1));",
    ].join(" ");
    return ["CMD", "node", "-e", script];
  }
  return refuse("curl or node (to verify the server against its CA)");
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
