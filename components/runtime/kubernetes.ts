import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { workloadIngressPolicy } from "../network/zone-policies";
import { claimTemplate, filesData, podSpec, PodSource, selectorLabels, workloadLabels } from "./kubernetes-pod";
import { DeployedWorkload, Endpoint, Job, Runtime, ScheduledJob, Workload, portTransports, roleOf } from "./workload";

export interface KubernetesRuntimeArgs {
  environment: string;
  namespace: pulumi.Input<string>;
  storageClass?: string;
  provider?: k8s.Provider;
  /** Annotations of the LoadBalancer Service a workload's published ports get (the cloud's load balancer controller reads them). */
  loadBalancerAnnotations?: Record<string, pulumi.Input<string>>;
  /** What that Service waits for: the controller reconciling it, so it is created after and deleted before it. */
  loadBalancerDependsOn?: pulumi.Resource[];
}

type RuntimeOptions = pulumi.CustomResourceOptions & { parent: pulumi.Resource };

/**
 * Renders Workloads to a Deployment (a StatefulSet when it has storage), Service, ConfigMap and
 * Secret mounted as files, PodDisruptionBudget; Jobs and CronJobs for one-shot and scheduled work.
 * Reachability comes from the zone labels and the NetworkPolicies of the network layer.
 */
export class KubernetesRuntime implements Runtime {
  readonly target = "kubernetes" as const;

  constructor(private readonly args: KubernetesRuntimeArgs) {}

  deploy(workload: Workload, opts: RuntimeOptions): DeployedWorkload {
    if ((workload.storage ?? []).some((s) => s.from !== undefined)) throw new Error(`${workload.name}: only scheduled jobs can mount another job's volume`);
    const role = roleOf(workload);
    const labels = workloadLabels(workload, role, this.args.environment);
    const childOpts = this.childOptions(workload, opts);
    const { names, resources } = this.fileObjects(workload, labels, childOpts);
    const replicas = workload.replicas ?? 1;
    const stateful = (workload.storage ?? []).length > 0;
    if (workload.everyNode && (stateful || workload.replicas !== undefined || workload.autoscaled)) {
      throw new Error(`${workload.name}: everyNode runs one pod per node; it takes no storage, replicas or autoscaling`);
    }
    const template = {
      metadata: { labels },
      spec: podSpec(workload, { ...names, claimsAreTemplates: stateful }, "Always"),
    };
    const metadata = { name: workload.name, namespace: this.args.namespace, labels };
    const service = new k8s.core.v1.Service(
      workload.name,
      {
        metadata,
        spec: {
          type: "ClusterIP",
          ...(workload.peerDiscovery ? { clusterIP: "None", publishNotReadyAddresses: true } : {}),
          selector: selectorLabels(workload.name),
          ports: workload.ports.flatMap((port) => portTransports(port).map((t) => ({ name: t.name, port: port.port, targetPort: port.port, protocol: t.protocol }))),
        },
      },
      childOpts,
    );
    const controller = workload.everyNode
      ? new k8s.apps.v1.DaemonSet(
          workload.name,
          {
            metadata,
            spec: {
              selector: { matchLabels: selectorLabels(workload.name) },
              // One node at a time: a bad image costs one node's metrics, not every node's.
              updateStrategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 1 } },
              template,
            },
          },
          { ...childOpts, dependsOn: [...resources, ...dependencies(childOpts)] },
        )
      : stateful
      ? new k8s.apps.v1.StatefulSet(
          workload.name,
          {
            metadata,
            spec: {
              serviceName: workload.name,
              replicas,
              podManagementPolicy: "OrderedReady",
              selector: { matchLabels: selectorLabels(workload.name) },
              template,
              volumeClaimTemplates: (workload.storage ?? []).map((s) => claimTemplate(s, this.args.storageClass)),
              persistentVolumeClaimRetentionPolicy: { whenDeleted: "Retain", whenScaled: "Retain" },
            },
          },
          // The Kubernetes provider replaces a StatefulSet whose volumeClaimTemplates change (and
          // the API server refuses to update them): the templates keep the size the set was created
          // with, and the claims' size is managed below, in place.
          { ...childOpts, dependsOn: [...resources, service, ...dependencies(childOpts)], ignoreChanges: ["spec.volumeClaimTemplates"] },
        )
      : new k8s.apps.v1.Deployment(
          workload.name,
          {
            metadata,
            spec: {
              ...(workload.autoscaled === true ? {} : { replicas }),
              selector: { matchLabels: selectorLabels(workload.name) },
              strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
              template,
            },
          },
          { ...childOpts, dependsOn: [...resources, ...dependencies(childOpts)] },
        );
    // Published ports (the gateway's) get a LoadBalancer Service of their own, holding only them:
    // the workload's other ports (metrics, ping) stay on the ClusterIP Service above.
    const published = workload.ports.filter((port) => port.publish === "host");
    const loadBalancer =
      published.length > 0
        ? new k8s.core.v1.Service(
            `${workload.name}-public`,
            {
              metadata: { ...metadata, name: `${workload.name}-public`, annotations: this.args.loadBalancerAnnotations },
              spec: {
                type: "LoadBalancer",
                ...(sendsToPodIps(this.args.loadBalancerAnnotations) ? { allocateLoadBalancerNodePorts: false } : {}),
                selector: selectorLabels(workload.name),
                ports: published.map((port) => ({ name: port.name.slice(0, 15), port: port.hostPort ?? port.port, targetPort: port.port, protocol: "TCP" })),
              },
            },
            { ...childOpts, dependsOn: [...dependencies(childOpts), ...(this.args.loadBalancerDependsOn ?? [])] },
          )
        : undefined;
    // A drain evicts no DaemonSet pod (kubectl drain skips them), so a budget would guard nothing.
    // AlwaysAllow: a pod that runs but is not ready serves nothing, and under the default
    // (IfHealthyBudget) a workload whose pods are failing would hold every node drain until they
    // recover; the budget still keeps the ready ones.
    const pdb = workload.everyNode
      ? undefined
      : new k8s.policy.v1.PodDisruptionBudget(
          workload.name,
          { metadata, spec: { maxUnavailable: 1, selector: { matchLabels: selectorLabels(workload.name) }, unhealthyPodEvictionPolicy: "AlwaysAllow" } },
          childOpts,
        );
    // The ports it accepts, per zone; the zone policies of the network layer only let members send.
    const ingress = workloadIngressPolicy(workload);
    if (ingress) {
      new k8s.networking.v1.NetworkPolicy(ingress.name, { metadata: { name: ingress.name, namespace: this.args.namespace, labels }, spec: ingress.spec }, childOpts);
    }
    const claimSizes = stateful ? this.claimSizes(workload, replicas, controller, childOpts) : [];
    const deployed = this.deployed(workload, [controller, service, ...(pdb ? [pdb] : []), ...claimSizes, ...(loadBalancer ? [loadBalancer] : [])]);
    if (!loadBalancer) return deployed;
    return { ...deployed, publicHostname: loadBalancer.status.apply((status) => status?.loadBalancer?.ingress?.[0]?.hostname ?? status?.loadBalancer?.ingress?.[0]?.ip) };
  }

  /**
   * The size of each claim the StatefulSet made from its templates (`<template>-<set>-<ordinal>`),
   * as a server-side-apply patch of spec.resources.requests.storage only: a larger size grows the
   * volume in place (the StorageClass must allow expansion; Kubernetes refuses to shrink one).
   * A patch resource never deletes its object; it needs the claim to exist, so it follows the set.
   */
  private claimSizes(workload: Workload, replicas: number, controller: pulumi.Resource, childOpts: pulumi.CustomResourceOptions): pulumi.Resource[] {
    return (workload.storage ?? []).flatMap((storage) =>
      Array.from({ length: replicas }, (_, ordinal) => {
        const name = `${storage.name}-${workload.name}-${ordinal}`;
        return new k8s.core.v1.PersistentVolumeClaimPatch(
          name,
          {
            metadata: {
              name,
              namespace: this.args.namespace,
              // The controller that created the claim owns the field; take it over for this one value.
              annotations: { "pulumi.com/patchForce": "true" },
            },
            spec: { resources: { requests: { storage: `${storage.sizeGiB}Gi` } } },
          },
          { parent: childOpts.parent, provider: childOpts.provider, dependsOn: [controller] },
        );
      }),
    );
  }

  run(job: Job, opts: RuntimeOptions): DeployedWorkload {
    const role = roleOf(job, true);
    const labels = workloadLabels(job, role, this.args.environment);
    const childOpts = this.childOptions(job, opts);
    const { names, resources } = this.fileObjects(job, labels, childOpts);
    // No fixed name: a changed Job is replaced by a new one rather than patched (Jobs are immutable).
    const created = new k8s.batch.v1.Job(
      job.name,
      {
        metadata: { namespace: this.args.namespace, labels },
        spec: {
          backoffLimit: job.backoffLimit ?? 3,
          template: { metadata: { labels }, spec: podSpec(job, { ...names, claimsAreTemplates: false }, "Never") },
        },
      },
      { ...childOpts, dependsOn: [...resources, ...dependencies(childOpts)] },
    );
    return this.deployed(job, [created]);
  }

  schedule(job: ScheduledJob, opts: RuntimeOptions): DeployedWorkload {
    const role = roleOf(job, true);
    const labels = workloadLabels(job, role, this.args.environment);
    const childOpts = this.childOptions(job, opts);
    const { names, resources } = this.fileObjects(job, labels, childOpts);
    const claims = Object.fromEntries(
      (job.storage ?? []).map((storage) => {
        // Another job's claim: ReadWriteOnce lets a second pod attach it once the first is done.
        if (storage.from !== undefined) return [storage.name, `${storage.from}-${storage.name}`];
        const claim = new k8s.core.v1.PersistentVolumeClaim(
          `${job.name}-${storage.name}`,
          { metadata: { name: `${job.name}-${storage.name}`, namespace: this.args.namespace, labels }, spec: claimTemplate(storage, this.args.storageClass).spec! },
          // A fixed-name object whose storageClassName or accessModes change is deleted before it is
          // recreated (pulumi-kubernetes Diff): retained, the claim and its backups outlive that and
          // a destroy, as the StatefulSets' claims do; the update then fails instead of emptying it.
          { ...childOpts, retainOnDelete: true },
        );
        resources.push(claim);
        return [storage.name, `${job.name}-${storage.name}`];
      }),
    );
    const cronJob = new k8s.batch.v1.CronJob(
      job.name,
      {
        metadata: { name: job.name, namespace: this.args.namespace, labels },
        spec: {
          schedule: job.schedule,
          timeZone: "Etc/UTC",
          concurrencyPolicy: "Forbid",
          startingDeadlineSeconds: 3600,
          successfulJobsHistoryLimit: 3,
          failedJobsHistoryLimit: 3,
          jobTemplate: {
            metadata: { labels },
            spec: {
              backoffLimit: 2,
              template: { metadata: { labels }, spec: podSpec(job, { ...names, claims, claimsAreTemplates: false }, "Never") },
            },
          },
        },
      },
      { ...childOpts, dependsOn: [...resources, ...dependencies(childOpts)] },
    );
    return this.deployed(job, [cronJob, ...resources]);
  }

  private childOptions(source: { dependsOn?: DeployedWorkload[] }, opts: RuntimeOptions): pulumi.CustomResourceOptions {
    const extra = (source.dependsOn ?? []).flatMap((d) => d.resources);
    const given = opts.dependsOn === undefined ? [] : Array.isArray(opts.dependsOn) ? opts.dependsOn : [opts.dependsOn];
    return { parent: opts.parent, provider: this.args.provider, dependsOn: [...(given as pulumi.Resource[]), ...extra] };
  }

  private fileObjects(
    source: PodSource,
    labels: Record<string, string>,
    opts: pulumi.CustomResourceOptions,
  ): { names: { configMap?: pulumi.Input<string>; secret?: pulumi.Input<string> }; resources: pulumi.Resource[] } {
    const files = source.files ?? [];
    const plain = files.filter((f) => !f.secret);
    const secret = files.filter((f) => f.secret);
    const resources: pulumi.Resource[] = [];
    const names: { configMap?: pulumi.Input<string>; secret?: pulumi.Input<string> } = {};
    const fileOpts = { parent: opts.parent, provider: opts.provider };
    if (plain.length > 0) {
      const configMap = new k8s.core.v1.ConfigMap(
        `${source.name}-files`,
        { metadata: { namespace: this.args.namespace, labels }, data: filesData(plain) },
        fileOpts,
      );
      resources.push(configMap);
      names.configMap = configMap.metadata.name;
    }
    if (secret.length > 0) {
      const secretObject = new k8s.core.v1.Secret(
        `${source.name}-secrets`,
        { metadata: { namespace: this.args.namespace, labels }, type: "Opaque", stringData: pulumi.secret(filesData(secret)) },
        fileOpts,
      );
      resources.push(secretObject);
      names.secret = secretObject.metadata.name;
    }
    return { names, resources };
  }

  private deployed(source: { name: string; ports?: Workload["ports"] }, resources: pulumi.Resource[]): DeployedWorkload {
    return {
      name: source.name,
      host: pulumi.output(source.name),
      resources,
      endpoint: (portName: string): pulumi.Output<Endpoint> => {
        const port = source.ports?.find((p) => p.name === portName);
        if (!port) throw new Error(`workload ${source.name} has no port named ${portName}`);
        return pulumi.output({ host: source.name, port: port.port });
      },
    };
  }
}

function dependencies(opts: pulumi.CustomResourceOptions): pulumi.Resource[] {
  return (opts.dependsOn ?? []) as pulumi.Resource[];
}


/**
 * The AWS Load Balancer Controller's ip targets send to pod addresses: node ports would open the
 * gateway's ports on every node, past its security group, for nothing.
 */
function sendsToPodIps(annotations: Record<string, pulumi.Input<string>> | undefined): boolean {
  return annotations?.["service.beta.kubernetes.io/aws-load-balancer-nlb-target-type"] === "ip";
}
