import { request } from "node:http";

/**
 * The Docker Engine API over a unix socket, the way the Docker provider's Go client reaches it:
 * plain HTTP requests to /v<version>/..., version negotiated down to what the daemon speaks.
 */
export interface EngineResponse {
  status: number;
  body: Buffer;
}

export class EngineApiError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    readonly detail: string,
  ) {
    super(`${method} ${path}: ${status} ${detail}`);
  }
}

export class EngineApi {
  /** Set by negotiate(): the API version both sides speak. */
  version = "";

  constructor(readonly socketPath: string) {}

  raw(method: string, path: string, options: { query?: Record<string, string>; json?: unknown; body?: Buffer; contentType?: string; timeoutMs?: number } = {}): Promise<EngineResponse> {
    const query = options.query ? `?${new URLSearchParams(options.query).toString()}` : "";
    const payload = options.json !== undefined ? Buffer.from(JSON.stringify(options.json)) : options.body;
    const headers: Record<string, string> = { Host: "docker" };
    if (payload) {
      headers["Content-Type"] = options.json !== undefined ? "application/json" : (options.contentType ?? "application/octet-stream");
      headers["Content-Length"] = String(payload.length);
    }
    const prefix = this.version && path !== "/_ping" ? `/v${this.version}` : "";
    return new Promise((resolve, reject) => {
      const req = request({ socketPath: this.socketPath, method, path: `${prefix}${path}${query}`, headers, timeout: options.timeoutMs ?? 120_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
        res.on("error", reject);
      });
      req.on("timeout", () => req.destroy(new Error(`${method} ${path}: no answer in ${options.timeoutMs ?? 120_000} ms`)));
      req.on("error", reject);
      if (payload) req.write(payload);
      req.end();
    });
  }

  /** A request that must succeed (2xx); the engine's error message otherwise. */
  async call<T = unknown>(method: string, path: string, options: Parameters<EngineApi["raw"]>[2] = {}): Promise<T> {
    const response = await this.raw(method, path, options);
    const text = response.body.toString("utf8");
    if (response.status < 200 || response.status >= 300) {
      let detail = text.trim();
      try {
        detail = (JSON.parse(text) as { message?: string }).message ?? detail;
      } catch {
        // not JSON: keep the text
      }
      throw new EngineApiError(method, path, response.status, detail);
    }
    return (text.length > 0 && text.trimStart().startsWith("{")) || text.trimStart().startsWith("[") ? (JSON.parse(text) as T) : (text as unknown as T);
  }

  /** The Go client's negotiation: the lower of its own maximum and the daemon's version. */
  async negotiate(clientMaximum: string): Promise<string> {
    const info = await this.call<{ ApiVersion: string }>("GET", "/version");
    this.version = compareVersions(info.ApiVersion, clientMaximum) < 0 ? info.ApiVersion : clientMaximum;
    return this.version;
  }

  /** Runs a command in a running container; stdout and stderr demultiplexed, and its exit code. */
  async exec(container: string, command: string[], user?: string): Promise<{ exitCode: number; stdout: string; stderr: string }> {
    const created = await this.call<{ Id: string }>("POST", `/containers/${container}/exec`, { json: { Cmd: command, AttachStdout: true, AttachStderr: true, User: user ?? "" } });
    const response = await this.raw("POST", `/exec/${created.Id}/start`, { json: { Detach: false, Tty: false } });
    if (response.status !== 200) throw new EngineApiError("POST", `/exec/${created.Id}/start`, response.status, response.body.toString("utf8"));
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let offset = 0;
    const body = response.body;
    while (offset + 8 <= body.length) {
      const stream = body[offset];
      const size = body.readUInt32BE(offset + 4);
      (stream === 2 ? err : out).push(body.subarray(offset + 8, offset + 8 + size));
      offset += 8 + size;
    }
    const inspected = await this.call<{ ExitCode: number; Running: boolean }>("GET", `/exec/${created.Id}/json`);
    return { exitCode: inspected.ExitCode, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") };
  }
}

export function compareVersions(a: string, b: string): number {
  const [am, an] = a.split(".").map(Number);
  const [bm, bn] = b.split(".").map(Number);
  return am !== bm ? am - bm : an - bn;
}
