import * as pulumi from "@pulumi/pulumi";
import { DatabaseKind, ServiceName, StackConfig } from "../config";

/**
 * What every layer's wiring is given: the validated stack config and the Platform as parent.
 * Layers are children of the Platform itself (not of a layer component of their own), because
 * a resource's URN names its parents: an extra level would replace every deployed resource.
 */
export interface LayerScope {
  config: StackConfig;
  parent: pulumi.ComponentResource;
}

/** Resource options that make a layer's component a child of the Platform. */
export function childOf(scope: LayerScope): pulumi.ComponentResourceOptions {
  return { parent: scope.parent };
}

/** Enabled services that consume a data service, in a stable order. */
export function consumersOf(config: StackConfig, kind: DatabaseKind): ServiceName[] {
  return (Object.keys(config.services) as ServiceName[]).filter((name) => config.services[name].enabled && config.services[name].databases.includes(kind));
}

/** A server's size as the runtime takes it, without the rest of its config section. */
export function sizeOf(s: { cpu: number; memoryMiB: number }): { cpu: number; memoryMiB: number } {
  return { cpu: s.cpu, memoryMiB: s.memoryMiB };
}
