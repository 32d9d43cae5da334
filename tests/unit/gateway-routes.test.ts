import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { RouteRegistry } from "../../components/edge";
import { adminRoute, DeployedWorkload, Runtime, Workload } from "../../components/runtime/workload";

/** A runtime that deploys nothing: the registry's checks happen before it is asked. */
const inner: Runtime = {
  target: "docker",
  deploy: (workload) => ({ name: workload.name, host: pulumi.output(workload.name), endpoint: () => pulumi.output({ host: workload.name, port: 0 }), resources: [] }) as DeployedWorkload,
  run: () => {
    throw new Error("not used");
  },
  schedule: () => {
    throw new Error("not used");
  },
};

function ui(name: string, publish?: "gateway" | "host"): Workload {
  return {
    name,
    image: "grafana/grafana:12.1.1",
    zones: ["monitoring"],
    ports: [{ name: "http", port: 3000, zones: ["monitoring"], ...(publish ? { publish } : {}) }],
    health: { readiness: { kind: "tcp", port: 3000 }, liveness: { kind: "tcp", port: 3000 } },
    resources: { cpu: 0.1, memoryMiB: 64 },
    stopGracePeriodSeconds: 10,
    route: adminRoute(name, "example.com"),
  };
}

const parent = {} as pulumi.Resource;

describe("the route registry", () => {
  it("notes a route with the port number and the zones the port is offered in", () => {
    const registry = new RouteRegistry(inner);
    registry.deploy(ui("grafana", "gateway"), { parent });
    expect(registry.routes).toEqual([{ workload: "grafana", route: adminRoute("grafana", "example.com"), port: 3000, zones: ["monitoring"] }]);
  });

  it("refuses a route whose port is not published to the gateway, or names no port", () => {
    const registry = new RouteRegistry(inner);
    expect(() => registry.deploy(ui("grafana"), { parent })).toThrow('workload grafana: route.port "http" must say publish: "gateway" to be routed');
    expect(() => registry.deploy({ ...ui("grafana", "gateway"), route: { ...adminRoute("grafana", "example.com"), port: "web" } }, { parent })).toThrow(
      'workload grafana: route.port "web" names no port (it has: http)',
    );
    expect(registry.routes).toEqual([]);
  });

  it("refuses a route declared after the gateway rendered its routers", () => {
    const registry = new RouteRegistry(inner);
    registry.deploy(ui("grafana", "gateway"), { parent });
    expect(registry.seal().map((r) => r.workload)).toEqual(["grafana"]);
    expect(() => registry.deploy(ui("prometheus", "gateway"), { parent })).toThrow(/workload prometheus: declares a route after the gateway rendered its routers/);
  });
});
