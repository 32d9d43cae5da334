import { hostname, networkInterfaces } from "node:os";
import { consulRequest, pinnedConnection, type ConsulConnection } from "./consul-http";

/** Where and how this instance registers itself with the local Consul agent. */
export interface ConsulRegistrationOptions {
  /** The local agent's HTTP API, e.g. http://consul:8500 (CONSUL_HTTP_ADDR). */
  agentUrl: string;
  service: string;
  /** Unique per instance; defaults to `<service>-<hostname>-<port>`. */
  id?: string;
  /** The address other services dial; defaults to this host's first non-loopback IPv4 address. */
  address?: string;
  port: number;
  tags?: string[];
  meta?: Record<string, string>;
  /** Path of the readiness route the agent polls. */
  checkPath?: string;
  checkIntervalSeconds?: number;
  checkTimeoutSeconds?: number;
  /** The agent drops an instance whose check stays critical this long (a crashed process). */
  deregisterCriticalAfterSeconds?: number;
  /** ACL token with service:write (from CONSUL_HTTP_TOKEN_FILE). */
  token?: string;
  /** CA, client certificate and key (PEM) for an HTTPS agent that verifies clients. */
  tls?: ConsulConnection["tls"];
  /** Scheme of the check URL the agent polls: https once the service serves TLS. */
  checkScheme?: "http" | "https";
  /**
   * The name the agent verifies the service's certificate against (Consul's TLSServerName): the
   * check dials an address, which no leaf carries. The agent verifies against its own CA file
   * (enable_agent_tls_for_checks), the platform CA.
   */
  checkTlsServerName?: string;
  /** Per request to the agent. */
  timeoutMs?: number;
}

export interface ConsulRegistration {
  readonly id: string;
  /** Removes the instance from the catalogue; safe to call twice. */
  deregister(): Promise<void>;
}

async function agentCall(connection: ConsulConnection, path: string, body?: unknown): Promise<void> {
  const response = await consulRequest(connection, "PUT", path, body === undefined ? {} : { body });
  if (response.status < 200 || response.status >= 300) {
    throw new Error(`consul ${path}: ${response.status} ${response.body.slice(0, 300)}`);
  }
}

/**
 * The address Consul's check and other services dial when none is configured: the first IPv4
 * address that is not loopback (a Kubernetes pod's own address: its host name resolves nowhere).
 */
export function defaultServiceAddress(): string {
  for (const addresses of Object.values(networkInterfaces())) {
    const found = (addresses ?? []).find((a) => a.family === "IPv4" && !a.internal);
    if (found) return found.address;
  }
  return hostname();
}

/** The agent API's JSON for one service with an HTTP check on its readiness route. */
export function consulServiceDefinition(options: ConsulRegistrationOptions): Record<string, unknown> {
  const address = options.address ?? defaultServiceAddress();
  const id = options.id ?? `${options.service}-${hostname()}-${options.port}`;
  return {
    ID: id,
    Name: options.service,
    Address: address,
    Port: options.port,
    Tags: options.tags ?? [],
    Meta: options.meta ?? {},
    Check: {
      CheckID: `${id}-ready`,
      Name: `${options.service} readiness`,
      HTTP: `${options.checkScheme ?? "http"}://${address}:${options.port}${options.checkPath ?? "/health/ready"}`,
      Method: "GET",
      ...(options.checkScheme === "https" && options.checkTlsServerName !== undefined ? { TLSServerName: options.checkTlsServerName } : {}),
      Interval: `${options.checkIntervalSeconds ?? 10}s`,
      Timeout: `${options.checkTimeoutSeconds ?? 3}s`,
      DeregisterCriticalServiceAfter: `${options.deregisterCriticalAfterSeconds ?? 60}s`,
    },
  };
}

/**
 * Registers through PUT /v1/agent/service/register; the agent runs the check from then on. The
 * agent's address is resolved once and kept: behind a name that resolves to several servers
 * (Kubernetes), the deregistration must reach the agent that holds the registration.
 */
export async function registerWithConsul(options: ConsulRegistrationOptions): Promise<ConsulRegistration> {
  const definition = consulServiceDefinition(options);
  const id = definition.ID as string;
  const connection = await pinnedConnection({
    url: options.agentUrl,
    ...(options.token === undefined ? {} : { token: options.token }),
    ...(options.tls === undefined ? {} : { tls: options.tls }),
    timeoutMs: options.timeoutMs ?? 5000,
  });
  await agentCall(connection, "/v1/agent/service/register", definition);
  let deregistered: Promise<void> | undefined;
  return {
    id,
    deregister() {
      deregistered ??= agentCall(connection, `/v1/agent/service/deregister/${encodeURIComponent(id)}`);
      return deregistered;
    },
  };
}
