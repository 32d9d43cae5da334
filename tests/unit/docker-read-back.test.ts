import { beforeAll, describe, expect, it } from "vitest";
import { dockerCapabilities, dockerCpus, goDuration } from "../../components/runtime/docker-read-back";
import { runStack, StackView } from "./stack-run";

/**
 * The Docker provider reads a container back after creating it and on every refresh; each field
 * it reads that differs from the program's input is a diff, and nearly every container field is
 * ForceNew. These tests hold the program's inputs to the form the provider writes into the state
 * (terraform-provider-docker v4.5: resourceDockerContainerRead, nanoInt64ToDecimalString,
 * time.Duration.String; the Docker client's normalizeCapabilities).
 */

/** The provider's read of `cpus`: parsed to nano-CPUs by opts.ParseCPUs, printed back. */
function cpusAsRead(cpus: string): string {
  const [whole, fraction = ""] = cpus.split(".");
  const nano = BigInt(whole || "0") * 1_000_000_000n + BigInt((fraction + "000000000").slice(0, 9));
  return dockerCpus(Number(nano) / 1e9);
}

const GO_UNITS: Record<string, number> = { h: 3600, m: 60, s: 1, ms: 0.001 };

/** time.ParseDuration for the units a healthcheck uses, then time.Duration.String(). */
function durationAsRead(text: string): string {
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g)];
  if (parts.map((p) => p[0]).join("") !== text) throw new Error(`not a Go duration: ${text}`);
  return goDuration(parts.reduce((sum, [, value, unit]) => sum + Number(value) * GO_UNITS[unit], 0));
}

describe("values in the provider's read-back form", () => {
  it("prints cpus as nanoInt64ToDecimalString does (the provider's own test table, and its edges)", () => {
    expect(dockerCpus(1)).toBe("1.0");
    expect(dockerCpus(1.5)).toBe("1.5");
    expect(dockerCpus(2)).toBe("2.0");
    expect(dockerCpus(2.25)).toBe("2.25");
    expect(dockerCpus(0.5)).toBe("0.5");
    expect(dockerCpus(0.25)).toBe("0.25");
    expect(dockerCpus(0.1)).toBe("0.1");
    // Nine zeros in "10.000000000" are ten: the provider trims them all.
    expect(dockerCpus(10)).toBe("10.");
    expect(dockerCpus(64)).toBe("64.0");
  });

  it("prints durations as Go's time.Duration.String()", () => {
    expect(goDuration(10)).toBe("10s");
    expect(goDuration(300)).toBe("5m0s");
    expect(goDuration(90)).toBe("1m30s");
    expect(goDuration(3600)).toBe("1h0m0s");
    expect(goDuration(0.5)).toBe("500ms");
    expect(goDuration(0)).toBe("0s");
  });

  it("writes capabilities as the client sends and the engine stores them", () => {
    expect(dockerCapabilities(["setuid", "CHOWN", "CAP_SETGID", "chown"])).toEqual(["CAP_CHOWN", "CAP_SETGID", "CAP_SETUID"]);
    expect(dockerCapabilities(["ALL"])).toEqual(["ALL"]);
  });
});

describe("the dev stack's containers as the provider reads them back", () => {
  let dev: StackView;
  beforeAll(async () => {
    dev = await runStack("dev");
  });

  it("sends every cpus value in the form it reads back, so no data container is replaced on the next up", () => {
    for (const container of dev.all("docker:index/container:Container")) {
      const cpus = dev.revealed(container).cpus as string;
      expect(cpus, container.name).toBe(cpusAsRead(cpus));
    }
    expect(dev.revealed(dev.one("docker:index/container:Container", "postgres")).cpus).toBe("2.0");
  });

  it("sends every healthcheck duration in Go's form and no start interval (refused below engine API 1.44)", () => {
    for (const container of dev.all("docker:index/container:Container")) {
      const healthcheck = dev.revealed(container).healthcheck as Record<string, unknown> | undefined;
      if (!healthcheck) continue;
      for (const field of ["interval", "timeout", "startPeriod"]) {
        const value = healthcheck[field] as string;
        expect(value, `${container.name} ${field}`).toBe(durationAsRead(value));
      }
      // The schema defaults start_interval to "0s" and the read returns "0s" from an engine that ignores it.
      expect(healthcheck.startInterval ?? "0s", container.name).toBe("0s");
    }
  });

  it("sends capabilities in the engine's form", () => {
    for (const container of dev.all("docker:index/container:Container")) {
      const capabilities = dev.revealed(container).capabilities as { adds?: string[]; drops?: string[] };
      expect(capabilities.adds ?? [], container.name).toEqual(dockerCapabilities(capabilities.adds ?? []));
      expect(capabilities.drops ?? [], container.name).toEqual(dockerCapabilities(capabilities.drops ?? []));
    }
  });
});
