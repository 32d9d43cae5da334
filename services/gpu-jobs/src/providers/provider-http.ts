import type { Provider } from "../placement/rank-offers";
import { type FailureReason, ProviderError } from "./provider-adapter";

export interface ProviderHttpOptions {
  provider: Provider;
  baseUrl: string;
  headers: Record<string, string>;
  /** Bounds calls that have no caller-given signal (listing, status, terminate). */
  timeoutMs: number;
  /** The provider's own mapping of an error answer to a reason, after the generic one. */
  classify?: (status: number, body: unknown, text: string) => FailureReason | undefined;
}

export interface ProviderResponse {
  status: number;
  body: unknown;
}

/** Retry-After in seconds or as an HTTP date; absent (Vast.ai never sends one) gives undefined. */
export function retryAfterMs(header: string | null): number | undefined {
  if (header === null) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

function genericReason(status: number): FailureReason {
  if (status === 401 || status === 403) return "auth";
  if (status === 429) return "rate_limited";
  if (status >= 500) return "server_error";
  return "rejected";
}

/** A short, key-free description of an error body for the attempt record. */
export function describeBody(body: unknown, text: string): string {
  if (body && typeof body === "object") {
    const record = body as Record<string, unknown>;
    const error = record.error;
    if (error && typeof error === "object") {
      const e = error as Record<string, unknown>;
      return String(e.message ?? e.code ?? JSON.stringify(error)).slice(0, 300);
    }
    for (const field of ["msg", "message", "error", "detail"]) if (typeof record[field] === "string") return (record[field] as string).slice(0, 300);
  }
  return text.slice(0, 300);
}

/** JSON over HTTP with the provider's auth headers; non-2xx answers become ProviderErrors. */
export async function providerRequest(options: ProviderHttpOptions, method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<ProviderResponse> {
  const timeout = AbortSignal.timeout(options.timeoutMs);
  const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
  let response: Response;
  try {
    response = await fetch(`${options.baseUrl}${path}`, {
      method,
      headers: { accept: "application/json", ...(body === undefined ? {} : { "content-type": "application/json" }), ...options.headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: combined,
    });
  } catch (error) {
    if (combined.aborted) throw new ProviderError(options.provider, "timeout", `${method} ${path}: no answer in time`);
    throw new ProviderError(options.provider, "server_error", `${method} ${path}: ${(error as Error).message}`);
  }
  let text: string;
  try {
    text = await response.text();
  } catch {
    throw new ProviderError(options.provider, "timeout", `${method} ${path}: the answer did not arrive in time`);
  }
  let parsed: unknown;
  try {
    parsed = text === "" ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (response.ok) return { status: response.status, body: parsed };
  const reason = options.classify?.(response.status, parsed, text) ?? genericReason(response.status);
  throw new ProviderError(options.provider, reason, `${method} ${path}: HTTP ${response.status}: ${describeBody(parsed, text)}`, retryAfterMs(response.headers.get("retry-after")), response.status);
}
