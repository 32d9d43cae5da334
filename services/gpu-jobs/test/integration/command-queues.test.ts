// Commands and events through a real RabbitMQ booted with the stack's rendered definitions: the API
// writes the launch and cancel commands to gpu_outbox in the job's own transaction, the kit's relay
// sends them, this replica's workers consume the gpu-jobs queues; duplicates change nothing; a
// broken command is dead-lettered; the HTTP request and the command it causes are one trace.
import { SpanKind } from "@opentelemetry/api";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { createLogger } from "@fundament/kit";
import { Messaging } from "@fundament/kit/messaging";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../../../../scripts/local-servers/free-port";
import type { GpuJobsApp } from "../../src/app";
import { cancelJob, GPU_JOB_QUEUES, launchJob, monitorJob } from "../../src/messages/gpu-job-messages";
import type { Provider } from "../../src/placement/rank-offers";
import type { ProviderAdapter } from "../../src/providers/provider-adapter";
import { adapterFor, startFake } from "../fakes/adapters-for-fakes";
import type { FakeProvider } from "../fakes/fake-providers";
import { startGpuJobsBroker, type GpuJobsBroker } from "../support/gpu-jobs-broker";
import { type GpuJobsEnvironment, startGpuJobsEnvironment } from "../support/gpu-jobs-environment";

const JOB = {
  project: "vision",
  image: "ghcr.io/acme/train:1.0",
  command: ["python", "train.py"],
  gpu: { gpuCount: 1, minGpuMemoryGiB: 24, spot: "deny" },
  maxPricePerHour: 2,
  estimatedHours: 10,
};

const exporter = new InMemorySpanExporter();
const traceProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const tracer = traceProvider.getTracer("gpu-jobs-test");

let env: GpuJobsEnvironment;
let broker: GpuJobsBroker;
let runpod: FakeProvider;
let service: GpuJobsApp;
let messaging: Messaging;
let submitter: string;

const launches = () => runpod.server.requests.filter((request) => (request.body as { query?: string } | undefined)?.query?.includes("podFindAndDeployOnDemand"));
const jobState = (id: string) => env.sql(`select state from gpu_jobs where id = '${id}'`);

beforeAll(async () => {
  [env, broker, runpod] = await Promise.all([startGpuJobsEnvironment(), startGpuJobsBroker(), startFake("runpod")]);
  const adapters = new Map<Provider, ProviderAdapter>([["runpod", adapterFor("runpod", runpod.server.url)]]);
  const logger = createLogger({ service: "gpu-jobs", level: process.env.GPU_JOBS_TEST_LOG_LEVEL ?? "silent" });
  messaging = await Messaging.connect({ endpoint: broker.endpoint("gpu-jobs"), prefetch: 4, logger, tracer, publishTimeoutMs: 4000 });
  // The relay's poll is an hour: every command and event below leaves because the transaction that
  // wrote it woke the relay at its commit (a LISTEN through PgBouncer would never be heard).
  service = await env.app(adapters, { owner: "command-replica", messaging, outboxPollMs: 3_600_000, tracing: { tracer, shutdown: async () => undefined } });
  await service.app.ready();
  submitter = await env.token(["gpu:submit", "gpu:project:vision"]);
  const admin = await env.token(["gpu:admin"], "admin-1");
  expect((await service.app.inject({ method: "PUT", url: "/budgets/vision", headers: { authorization: `Bearer ${admin}` }, payload: { limitUsd: 500 } })).statusCode).toBe(200);
}, 300_000);

afterAll(async () => {
  await service?.app.close();
  await runpod?.close();
  await Promise.all([env?.stop(), broker?.destroy()]);
});

describe("gpu-jobs commands through RabbitMQ", () => {
  let jobId: string;

  it("places a submitted job through its launch command alone (the loop is off) and publishes its state changes", async () => {
    const traceId = "5e1f6a2b3c4d5e6f708192a3b4c5d6e7";
    const created = await service.app.inject({ method: "POST", url: "/jobs", headers: { authorization: `Bearer ${submitter}`, traceparent: `00-${traceId}-1a2b3c4d5e6f7081-01` }, payload: JOB });
    expect(created.statusCode).toBe(201);
    jobId = (created.json() as { id: string }).id;
    await waitFor("job running", async () => jobState(jobId) === "running", 30_000);
    expect(launches()).toHaveLength(1);
    const queued = await broker.waitForEvent((event) => event.type === "gpu-job.state-changed" && event.payload.jobId === jobId && event.payload.state === "queued", "queued event");
    const running = await broker.waitForEvent((event) => event.type === "gpu-job.state-changed" && event.payload.jobId === jobId && event.payload.state === "running", "running event");
    expect(running.payload).toMatchObject({ project: "vision", provider: "runpod" });
    // The queued event was written by the request, so it carries the request's trace.
    expect(String(queued.headers.traceparent)).toContain(traceId);
    await broker.waitForEvent((event) => event.type === "gpu-job.audit" && event.payload.jobId === jobId && event.payload.action === "instance.launched", "launch audit event");
    await waitFor("gpu_outbox drained", async () => env.sql("select count(*) from gpu_outbox") === "0", 15_000);

    // One trace: the HTTP request's span is the parent of the launch worker's span.
    const server = exporter.getFinishedSpans().find((span) => span.kind === SpanKind.SERVER && span.name === "POST /jobs")!;
    expect(server.spanContext().traceId).toBe(traceId);
    const worker = exporter.getFinishedSpans().find((span) => span.kind === SpanKind.CONSUMER && span.name === `${GPU_JOB_QUEUES.launch} process`)!;
    expect(worker.spanContext().traceId).toBe(traceId);
    expect(worker.parentSpanId).toBe(server.spanContext().spanId);
  });

  it("treats duplicate and late commands as no-ops: no second launch, no state change, nothing dead-lettered", async () => {
    const before = env.sql(`select updated_at from gpu_jobs where id = '${jobId}'`);
    await Promise.all([messaging.publish(launchJob, { jobId }), messaging.publish(launchJob, { jobId }), messaging.publish(cancelJob, { jobId }), messaging.publish(monitorJob, { jobId })]);
    await waitFor("commands consumed", async () => {
      const depths = await Promise.all(Object.values(GPU_JOB_QUEUES).map((queue) => broker.operator.checkQueue(queue)));
      return depths.every((depth) => depth.messageCount === 0);
    });
    // Let the handlers of the last deliveries finish.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(launches()).toHaveLength(1);
    expect(jobState(jobId)).toBe("running");
    expect(runpod.instances.filter((instance) => instance.state === "running")).toHaveLength(1);
    // The monitor command ran (cost recorded), nothing else changed the job.
    expect(env.sql(`select state, provider from gpu_jobs where id = '${jobId}'`)).toBe("running|runpod");
    expect(env.sql(`select updated_at >= '${before}'::timestamptz from gpu_jobs where id = '${jobId}'`)).toBe("t");
    for (const queue of Object.values(GPU_JOB_QUEUES)) expect((await broker.operator.checkQueue(`${queue}.dlq`)).messageCount).toBe(0);
  });

  it("cancels through the cancel command: the instance is terminated and the job ends cancelled", async () => {
    const cancelled = await service.app.inject({ method: "DELETE", url: `/jobs/${jobId}`, headers: { authorization: `Bearer ${submitter}` } });
    expect(cancelled.statusCode).toBe(202);
    await waitFor("job cancelled", async () => jobState(jobId) === "cancelled", 30_000);
    expect(runpod.instances.filter((instance) => instance.state === "running")).toHaveLength(0);
    await broker.waitForEvent((event) => event.type === "gpu-job.state-changed" && event.payload.jobId === jobId && event.payload.state === "cancelled", "cancelled event");
  });

  it("dead-letters a command that is not a valid command into its queue's dlq, with the reason", async () => {
    broker.operator.publish("commands", GPU_JOB_QUEUES.launch, Buffer.from(JSON.stringify({ jobId: "not-a-uuid" })), { type: launchJob.name, messageId: "bad-1", persistent: true });
    let dead: Awaited<ReturnType<typeof broker.operator.get>> = false;
    await waitFor("dead-lettered command", async () => (dead = await broker.operator.get(`${GPU_JOB_QUEUES.launch}.dlq`, { noAck: true })) !== false, 30_000);
    const headers = (dead as unknown as { properties: { headers: Record<string, unknown> } }).properties.headers;
    expect(String(headers["x-fundament-dead-letter-reason"])).toContain("/jobId");
  });

  it("lets the gpu-jobs user read only its own queues", async () => {
    await expect(messaging.consume("gpu-jobs.launch.dlq", launchJob, async () => undefined)).rejects.toThrow(/ACCESS_REFUSED|access.*refused/i);
  });
});
