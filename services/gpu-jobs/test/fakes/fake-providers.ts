import { type FakeAnswer, type FakeRequest, type FakeServer, ScenarioQueue, startFakeServer, bearerOk } from "./fake-http-server";

/** An instance a fake provider holds; `name` is where the adapter's idempotency key lands. */
export interface FakeInstance {
  id: string;
  name: string;
  state: "running" | "exited" | "terminated";
}

export interface FakeProvider {
  server: FakeServer;
  scenarios: ScenarioQueue;
  instances: FakeInstance[];
  /** An instance someone else started in the same account: never the reaper's business. */
  addForeign(name: string): FakeInstance;
  close(): Promise<void>;
}

let counter = 1000;
const nextId = () => String((counter += 1));

function live(instances: FakeInstance[]) {
  return instances.filter((i) => i.state !== "terminated");
}

/**
 * RunPod GraphQL: every answer is HTTP 200 with `errors` for failures (no capacity, balance), except
 * auth (401) and rate limiting (429). The operation is recognised by the field it names.
 */
export async function startFakeRunpod(): Promise<FakeProvider> {
  const scenarios = new ScenarioQueue();
  const instances: FakeInstance[] = [];
  const graphqlError = (message: string): FakeAnswer => ({ status: 200, body: { errors: [{ message, path: ["podFindAndDeployOnDemand"] }], data: { podFindAndDeployOnDemand: null } } });
  const server = await startFakeServer((request: FakeRequest): FakeAnswer => {
    if (!bearerOk(request)) return { status: 401, text: "401 Unauthorized" };
    const { query, variables } = request.body as { query: string; variables: { input?: Record<string, unknown> } };
    const pod = (i: FakeInstance) => ({ id: i.id, name: i.name, desiredStatus: i.state === "running" ? "RUNNING" : i.state === "exited" ? "EXITED" : "TERMINATED" });
    if (query.includes("gpuTypes")) {
      return { status: 200, body: { data: { gpuTypes: [{ id: "NVIDIA A100 80GB PCIe", displayName: "A100 80GB", memoryInGb: 80, lowestPrice: { minimumBidPrice: 0.9, uninterruptablePrice: 1.5 } }] } } };
    }
    if (query.includes("podFindAndDeployOnDemand") || query.includes("podRentInterruptable")) {
      const scenario = scenarios.next();
      if (scenario === "no_capacity") return graphqlError("There are no longer any instances available with the requested specifications. Please refresh and try again.");
      if (scenario === "quota") return graphqlError("You do not have enough balance to deploy this pod.");
      if (scenario === "auth") return { status: 401, text: "401 Unauthorized" };
      if (scenario === "rate_limit") return { status: 429, body: { errors: [{ message: "Too many requests" }] }, headers: { "retry-after": "30" } };
      if (scenario === "server_error") return { status: 502, text: "Bad Gateway" };
      const instance: FakeInstance = { id: `pod${nextId()}`, name: String(variables.input?.name), state: "running" };
      instances.push(instance);
      const field = query.includes("podRentInterruptable") ? "podRentInterruptable" : "podFindAndDeployOnDemand";
      return { status: 200, body: { data: { [field]: pod(instance) } }, ...(scenario === "slow_success" ? { hold: true } : {}) };
    }
    if (query.includes("podTerminate")) {
      const instance = instances.find((i) => i.id === variables.input?.podId);
      if (instance) instance.state = "terminated";
      return { status: 200, body: { data: { podTerminate: null } } };
    }
    if (query.includes("myself")) return { status: 200, body: { data: { myself: { pods: live(instances).map(pod) } } } };
    if (query.includes("pod(")) {
      const instance = instances.find((i) => i.id === variables.input?.podId && i.state !== "terminated");
      return { status: 200, body: { data: { pod: instance ? pod(instance) : null } } };
    }
    return { status: 200, body: { errors: [{ message: "Cannot query field" }] } };
  });
  return fakeProvider(server, scenarios, instances);
}

/** Vast.ai REST: 429 as plain text without Retry-After; failures as `{success:false, error, msg}`. */
export async function startFakeVastai(): Promise<FakeProvider> {
  const scenarios = new ScenarioQueue();
  const instances: FakeInstance[] = [];
  const view = (i: FakeInstance) => ({ id: Number(i.id), label: i.name, actual_status: i.state === "running" ? "running" : "exited", intended_status: "running" });
  const server = await startFakeServer((request): FakeAnswer => {
    if (!bearerOk(request)) return { status: 401, body: { success: false, error: "auth_error", msg: "Invalid user key" } };
    if (request.method === "GET" && request.path === "/bundles/") {
      return { status: 200, body: { offers: [{ id: 5001, gpu_name: "RTX 4090", num_gpus: 1, gpu_ram: 24564, dph_total: 0.45, reliability2: 0.98, geolocation: "Sweden, SE" }] } };
    }
    const ask = /^\/asks\/(\d+)\/$/.exec(request.path);
    if (request.method === "PUT" && ask) {
      const scenario = scenarios.next();
      if (scenario === "no_capacity") return { status: 400, body: { success: false, error: "no_such_ask", msg: "Instance type no longer available" } };
      if (scenario === "quota") return { status: 400, body: { success: false, error: "insufficient_credit", msg: "Your account lacks credit" } };
      if (scenario === "rate_limit") return { status: 429, text: "API requests too frequent: endpoint threshold=2.0" };
      if (scenario === "auth") return { status: 403, body: { success: false, error: "forbidden", msg: "api key lacks permission" } };
      if (scenario === "server_error") return { status: 500, text: "Internal Server Error" };
      const instance: FakeInstance = { id: nextId(), name: String((request.body as { label?: string }).label), state: "running" };
      instances.push(instance);
      return { status: 200, body: { success: true, new_contract: Number(instance.id) }, ...(scenario === "slow_success" ? { hold: true } : {}) };
    }
    if (request.method === "GET" && request.path === "/instances/") return { status: 200, body: { instances: live(instances).map(view) } };
    const one = /^\/instances\/(\d+)\/$/.exec(request.path);
    if (one) {
      const instance = instances.find((i) => i.id === one[1] && i.state !== "terminated");
      if (request.method === "DELETE") {
        if (instance) instance.state = "terminated";
        return { status: 200, body: { success: true } };
      }
      return instance ? { status: 200, body: { instances: view(instance) } } : { status: 404, body: { success: false, error: "no_such_instance", msg: "not found" } };
    }
    return { status: 404, body: { success: false, msg: "no route" } };
  });
  return fakeProvider(server, scenarios, instances);
}

/** Lambda Cloud API: `{data}` on success, `{error: {code, message, suggestion}}` on failure. */
export async function startFakeLambda(): Promise<FakeProvider> {
  const scenarios = new ScenarioQueue();
  const instances: FakeInstance[] = [];
  const error = (status: number, code: string, message: string): FakeAnswer => ({ status, body: { error: { code, message, suggestion: "try again later" } } });
  const view = (i: FakeInstance) => ({ id: i.id, name: i.name, status: i.state === "running" ? "active" : "terminated", region: { name: "us-east-1" }, instance_type: { name: "gpu_1x_a100" } });
  const server = await startFakeServer((request): FakeAnswer => {
    if (!bearerOk(request)) return error(401, "global/invalid-api-key", "API key was invalid, expired, or deleted.");
    if (request.method === "GET" && request.path === "/instance-types") {
      return {
        status: 200,
        body: {
          data: {
            gpu_1x_a100: { instance_type: { name: "gpu_1x_a100", description: "1x A100 (40 GB SXM4)", gpu_description: "A100 (40 GB SXM4)", price_cents_per_hour: 129, specs: { vcpus: 30, memory_gib: 200, storage_gib: 512, gpus: 1 } }, regions_with_capacity_available: [{ name: "us-east-1", description: "Virginia, USA" }] },
            gpu_8x_h100: { instance_type: { name: "gpu_8x_h100", description: "8x H100 (80 GB SXM5)", gpu_description: "H100 (80 GB SXM5)", price_cents_per_hour: 2392, specs: { vcpus: 208, memory_gib: 1800, storage_gib: 24780, gpus: 8 } }, regions_with_capacity_available: [] },
          },
        },
      };
    }
    if (request.method === "POST" && request.path === "/instance-operations/launch") {
      const scenario = scenarios.next();
      if (scenario === "no_capacity") return error(400, "instance-operations/launch/insufficient-capacity", "Not enough capacity to fulfill launch request.");
      if (scenario === "quota") return error(400, "global/quota-exceeded", "Quota exceeded.");
      if (scenario === "rate_limit") return { ...error(429, "global/too-many-requests", "Too many requests"), headers: { "retry-after": "12" } };
      if (scenario === "auth") return error(403, "global/unauthorized", "Account not authorized");
      if (scenario === "server_error") return error(500, "global/unknown", "Unknown error");
      const instance: FakeInstance = { id: `lam-${nextId()}`, name: String((request.body as { name?: string }).name), state: "running" };
      instances.push(instance);
      return { status: 200, body: { data: { instance_ids: [instance.id] } }, ...(scenario === "slow_success" ? { hold: true } : {}) };
    }
    if (request.method === "POST" && request.path === "/instance-operations/terminate") {
      const ids = (request.body as { instance_ids: string[] }).instance_ids;
      const found = instances.filter((i) => ids.includes(i.id) && i.state !== "terminated");
      if (found.length === 0) return error(404, "global/object-does-not-exist", "Specified instance does not exist.");
      for (const i of found) i.state = "terminated";
      return { status: 200, body: { data: { terminated_instances: found.map(view) } } };
    }
    if (request.method === "GET" && request.path === "/instances") return { status: 200, body: { data: live(instances).map(view) } };
    const one = /^\/instances\/(.+)$/.exec(request.path);
    if (request.method === "GET" && one) {
      const instance = instances.find((i) => i.id === one[1] && i.state !== "terminated");
      return instance ? { status: 200, body: { data: view(instance) } } : error(404, "global/object-does-not-exist", "Specified instance does not exist.");
    }
    return error(404, "global/not-found", "no route");
  });
  return fakeProvider(server, scenarios, instances);
}

/** Genesis Cloud compute API: `{code, message}` errors; availability per region; paged instance list. */
export async function startFakeGenesis(): Promise<FakeProvider> {
  const scenarios = new ScenarioQueue();
  const instances: FakeInstance[] = [];
  const view = (i: FakeInstance) => ({ id: i.id, name: i.name, hostname: i.name, status: i.state === "running" ? "active" : "shutoff" });
  const server = await startFakeServer((request): FakeAnswer => {
    if (!bearerOk(request)) return { status: 401, body: { code: "unauthorized", message: "invalid token" } };
    const availability = /^\/availability\/([^/]+)\/instances$/.exec(request.path);
    if (availability) return { status: 200, body: { availability: { type: "instances", region: availability[1], instance_types: [{ type: "vcpu-24_memory-192g_nvidia-a100-1", available: true }, { type: "vcpu-192_memory-1920g_nvidia-h100-sxm5-8", available: false }] } } };
    if (request.method === "POST" && request.path === "/instances") {
      const scenario = scenarios.next();
      if (scenario === "no_capacity") return { status: 409, body: { code: "instance_type_unavailable", message: "The requested instance type is not available in this region" } };
      if (scenario === "quota") return { status: 403, body: { code: "quota_exceeded", message: "GPU quota exceeded" } };
      if (scenario === "rate_limit") return { status: 429, body: { code: "rate_limited", message: "slow down" } };
      if (scenario === "auth") return { status: 401, body: { code: "unauthorized", message: "token revoked" } };
      if (scenario === "server_error") return { status: 503, body: { code: "unavailable", message: "maintenance" } };
      const instance: FakeInstance = { id: `gen-${nextId()}`, name: String((request.body as { name?: string }).name), state: "running" };
      instances.push(instance);
      return { status: 201, body: { instance: view(instance) }, ...(scenario === "slow_success" ? { hold: true } : {}) };
    }
    if (request.method === "GET" && request.path === "/instances") {
      const page = Number(request.query.get("page") ?? 1);
      const perPage = Number(request.query.get("per_page") ?? 50);
      const all = live(instances).map(view);
      return { status: 200, body: { instances: all.slice((page - 1) * perPage, page * perPage), total_count: all.length, page, per_page: perPage } };
    }
    const one = /^\/instances\/(.+)$/.exec(request.path);
    if (one) {
      const instance = instances.find((i) => i.id === one[1] && i.state !== "terminated");
      if (!instance) return { status: 404, body: { code: "not_found", message: "instance not found" } };
      if (request.method === "DELETE") {
        instance.state = "terminated";
        return { status: 204 };
      }
      return { status: 200, body: { instance: view(instance) } };
    }
    return { status: 404, body: { code: "not_found", message: "no route" } };
  });
  return fakeProvider(server, scenarios, instances);
}

/** Paperspace machines API (v1): `{items, hasMore, nextPage}` listing, `{message}` errors. */
export async function startFakePaperspace(): Promise<FakeProvider> {
  const scenarios = new ScenarioQueue();
  const instances: FakeInstance[] = [];
  const view = (i: FakeInstance) => ({ id: i.id, name: i.name, state: i.state === "running" ? "ready" : "off" });
  const server = await startFakeServer((request): FakeAnswer => {
    if (!bearerOk(request)) return { status: 401, body: { message: "Invalid API key", status: 401 } };
    if (request.method === "POST" && request.path === "/machines") {
      const scenario = scenarios.next();
      if (scenario === "no_capacity") return { status: 400, body: { message: "Out of capacity for machine type A100-80G in region ny2", status: 400 } };
      if (scenario === "quota") return { status: 400, body: { message: "Machine quota exceeded for this team", status: 400 } };
      if (scenario === "rate_limit") return { status: 429, body: { message: "Too many requests", status: 429 } };
      if (scenario === "auth") return { status: 403, body: { message: "forbidden", status: 403 } };
      if (scenario === "server_error") return { status: 500, body: { message: "internal", status: 500 } };
      const instance: FakeInstance = { id: `ps${nextId()}`, name: String((request.body as { name?: string }).name), state: "running" };
      instances.push(instance);
      return { status: 200, body: { data: view(instance) }, ...(scenario === "slow_success" ? { hold: true } : {}) };
    }
    if (request.method === "GET" && request.path === "/machines") return { status: 200, body: { items: live(instances).map(view), hasMore: false } };
    const one = /^\/machines\/(.+)$/.exec(request.path);
    if (one) {
      const instance = instances.find((i) => i.id === one[1] && i.state !== "terminated");
      if (!instance) return { status: 404, body: { message: "machine not found", status: 404 } };
      if (request.method === "DELETE") {
        instance.state = "terminated";
        return { status: 200, body: view(instance) };
      }
      return { status: 200, body: view(instance) };
    }
    return { status: 404, body: { message: "no route" } };
  });
  return fakeProvider(server, scenarios, instances);
}

/** The Kubernetes API for batch/v1 Jobs: Status objects for errors, 409 AlreadyExists on a second create with one name. */
export async function startFakeKubernetes(namespace: string): Promise<FakeProvider> {
  const scenarios = new ScenarioQueue();
  const instances: FakeInstance[] = [];
  const manifests = new Map<string, unknown>();
  const base = `/apis/batch/v1/namespaces/${namespace}/jobs`;
  const status = (code: number, reason: string, message: string): FakeAnswer => ({ status: code, body: { kind: "Status", apiVersion: "v1", status: "Failure", reason, message, code } });
  const view = (i: FakeInstance) => ({ metadata: { name: i.name, labels: { "app.kubernetes.io/managed-by": i.name.startsWith("fgj-") ? "fundament-gpu-jobs" : "someone-else" } }, status: i.state === "running" ? { active: 1 } : { succeeded: 1, conditions: [{ type: "Complete", status: "True" }] } });
  const server = await startFakeServer((request): FakeAnswer => {
    if (!bearerOk(request)) return status(401, "Unauthorized", "Unauthorized");
    if (request.method === "POST" && request.path === base) {
      const scenario = scenarios.next();
      const name = (request.body as { metadata: { name: string } }).metadata.name;
      if (scenario === "quota") return status(403, "Forbidden", `jobs.batch "${name}" is forbidden: exceeded quota: gpu-quota, requested: requests.nvidia.com/gpu=1, used: requests.nvidia.com/gpu=8, limited: requests.nvidia.com/gpu=8`);
      if (scenario === "auth") return status(403, "Forbidden", `jobs.batch is forbidden: User "system:serviceaccount:x:y" cannot create resource "jobs"`);
      if (scenario === "rate_limit") return { ...status(429, "TooManyRequests", "the server has received too many requests"), headers: { "retry-after": "1" } };
      if (scenario === "server_error") return status(500, "InternalError", "etcdserver: request timed out");
      if (instances.some((i) => i.name === name && i.state !== "terminated")) return status(409, "AlreadyExists", `jobs.batch "${name}" already exists`);
      const instance: FakeInstance = { id: name, name, state: "running" };
      instances.push(instance);
      manifests.set(name, request.body);
      return { status: 201, body: { ...(request.body as object), ...view(instance) }, ...(scenario === "slow_success" ? { hold: true } : {}) };
    }
    if (request.method === "GET" && request.path === base) {
      const selector = request.query.get("labelSelector") ?? "";
      return { status: 200, body: { kind: "JobList", items: live(instances).map(view).filter((job) => selector === "" || selector === `app.kubernetes.io/managed-by=${job.metadata.labels["app.kubernetes.io/managed-by"]}`) } };
    }
    const one = new RegExp(`^${base}/(.+)$`).exec(request.path);
    if (one) {
      const instance = instances.find((i) => i.name === one[1] && i.state !== "terminated");
      if (!instance) return status(404, "NotFound", `jobs.batch "${one[1]}" not found`);
      if (request.method === "DELETE") {
        instance.state = "terminated";
        return { status: 200, body: { kind: "Status", status: "Success" } };
      }
      return { status: 200, body: view(instance) };
    }
    return status(404, "NotFound", "no route");
  });
  const provider = fakeProvider(server, scenarios, instances);
  return Object.assign(provider, { manifests });
}

function fakeProvider(server: FakeServer, scenarios: ScenarioQueue, instances: FakeInstance[]): FakeProvider {
  return {
    server,
    scenarios,
    instances,
    addForeign(name) {
      const instance: FakeInstance = { id: `foreign-${nextId()}`, name, state: "running" };
      if (instance.id.length > 0) instances.push(instance);
      return instance;
    },
    close: () => server.close(),
  };
}
