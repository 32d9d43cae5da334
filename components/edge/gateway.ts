import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { ADMIN_RATE_LIMIT, DeployedWorkload, Runtime, WorkloadFile, WorkloadResources, Zone } from "../runtime/workload";
import { ACME_STORAGE, CA_FILE, CERT_FILE, CONSUL_CLIENT_CERT_FILE, CONSUL_CLIENT_KEY_FILE, DYNAMIC_CONFIG_PATH, GATEWAY_NAME, gatewayWorkload, KEY_FILE } from "./gateway-workload";
import { NotedRoute, RouteRegistry } from "./route-registry";
import { DASHBOARD_SERVICE, GatewayRoute, renderTraefikDynamic } from "./traefik-dynamic";
import { AcmeInput, renderTraefikStatic } from "./traefik-static";

export type GatewayCertificate =
  | { kind: "files"; certificatePem: pulumi.Input<string>; privateKeyPem: pulumi.Input<string> }
  | { kind: "acme"; email: string; caServer: string; challenge: AcmeInput["challenge"]; dnsCredentials: Record<string, string> };

export interface GatewayArgs {
  /** The runtime every layer deploys through; the gateway's routers come from its notes. */
  routes: RouteRegistry;
  runtime: Runtime;
  domain: string;
  image: string;
  resources: WorkloadResources;
  replicas: number;
  certificate: GatewayCertificate;
  /** The platform CA, which the gateway trusts for HTTPS backends and Consul. */
  caCertificatePem: pulumi.Input<string>;
  /** consulCatalog provider: Consul's HTTPS API, the gateway's ACL token (a secret) and its client certificate. */
  consul?: GatewayConsulAccess;
  /** Workloads whose routed port serves HTTPS with a platform-CA certificate. */
  httpsBackends?: string[];
  /** Load balancer sources allowed to send PROXY protocol headers (prod). */
  proxyProtocolTrustedIPs?: string[];
}

/** What the gateway reads Consul's catalogue with, and presents to Consul's UI. */
export interface GatewayConsulAccess {
  /** host:port of Consul's HTTPS API (consul:8501). */
  address: string;
  token: pulumi.Input<string>;
  clientCertPem: pulumi.Input<string>;
  clientKeyPem: pulumi.Input<string>;
}

export interface UiCredentials {
  user: string;
  password: string;
}

/** The user every admin UI's basic auth knows; each UI has its own password. */
export const ADMIN_USER = "admin";
const GATEWAY_ZONES: Zone[] = ["frontend", "monitoring"];
const DNS_SECRETS_DIR = "/run/secrets/gateway/dns";

/**
 * The Traefik gateway: the one way into the platform. It is deployed with the other layers, but
 * its routers are rendered once every layer has deployed (`serveRoutes`), from the routes the
 * workloads declared, so a layer added later is routed without touching this one.
 */
export class Gateway extends pulumi.ComponentResource {
  readonly workload: DeployedWorkload;
  /** Public URL per route: the APIs and admin UIs (filled by serveRoutes). */
  readonly urls: Record<string, string> = {};
  /** Basic-auth credentials per admin UI, each password a secret (filled by serveRoutes). */
  readonly credentials: Record<string, pulumi.Output<UiCredentials>> = {};
  /** The load balancer's hostname (Kubernetes); undefined on Docker. */
  readonly publicHostname?: pulumi.Output<string | undefined>;
  private resolveDynamic?: (config: pulumi.Output<string>) => void;
  private readonly args: GatewayArgs;
  private readonly componentName: string;

  constructor(name: string, args: GatewayArgs, opts?: pulumi.ComponentResourceOptions) {
    super("fundament:edge:Gateway", name, {}, opts);
    this.args = args;
    this.componentName = name;
    const acme = args.certificate.kind === "acme" ? args.certificate : undefined;
    const dnsCredentials = Object.entries(acme?.dnsCredentials ?? {});
    // lego reads every provider variable from <NAME>_FILE as well: the values stay files.
    const secretFiles: WorkloadFile[] = dnsCredentials.map(([variable, value]) => ({ path: `${DNS_SECRETS_DIR}/${variable}`, content: pulumi.secret(value), secret: true }));
    const env = Object.fromEntries(dnsCredentials.map(([variable]) => [`${variable}_FILE`, `${DNS_SECRETS_DIR}/${variable}`]));

    const staticInput = {
      dynamicConfigPath: DYNAMIC_CONFIG_PATH,
      caFile: CA_FILE,
      proxyProtocolTrustedIPs: args.proxyProtocolTrustedIPs,
      acme: acme ? { email: acme.email, caServer: acme.caServer, storage: ACME_STORAGE, challenge: acme.challenge } : undefined,
    };
    const consul = args.consul;
    const staticConfig = consul
      ? pulumi.secret(pulumi.output(consul.token).apply((token) => renderTraefikStatic({ ...staticInput, consul: { address: consul.address, token, caFile: CA_FILE, certFile: CONSUL_CLIENT_CERT_FILE, keyFile: CONSUL_CLIENT_KEY_FILE } })))
      : renderTraefikStatic(staticInput);
    const dynamicConfig = pulumi.output(new Promise<pulumi.Output<string>>((resolve) => (this.resolveDynamic = resolve)) as unknown as pulumi.Input<string>);

    this.workload = args.runtime.deploy(
      gatewayWorkload({
        image: args.image,
        resources: args.resources,
        replicas: args.replicas,
        staticConfig,
        // A secret file on both targets: it carries the Consul ACL token when consulCatalog is on,
        // and the names of the credential headers it drops (Authorization, Cookie) read as
        // credentials to the policy pack's ConfigMap rule.
        staticConfigSecret: true,
        dynamicConfig: pulumi.secret(dynamicConfig),
        caCertificatePem: args.caCertificatePem,
        certificate: args.certificate.kind === "files" ? args.certificate : undefined,
        acme: acme !== undefined,
        consulClient: consul ? { certificatePem: consul.clientCertPem, privateKeyPem: consul.clientKeyPem } : undefined,
        secretFiles,
        env,
      }),
      { parent: this },
    );
    this.publicHostname = this.workload.publicHostname;
    this.registerOutputs({ workload: GATEWAY_NAME });
  }

  /**
   * What `pulumi stack output` shows, as separate outputs (a secret inside an object makes the
   * whole object secret): the public URLs in plain text, the UIs' credentials as a secret, the
   * load balancer's hostname (Kubernetes: point the domain's DNS records at it).
   */
  outputs(): {
    publicUrls: Record<string, string>;
    adminUiCredentials: pulumi.Output<Record<string, UiCredentials>>;
    gatewayLoadBalancer?: { service: string; hostname: pulumi.Output<string | undefined> };
  } {
    return {
      publicUrls: this.urls,
      adminUiCredentials: pulumi.secret(pulumi.output(this.credentials)),
      ...(this.publicHostname ? { gatewayLoadBalancer: { service: `${GATEWAY_NAME}-public`, hostname: this.publicHostname } } : {}),
    };
  }

  /**
   * Renders the routers for every route the layers declared, and Traefik's own dashboard. Call it
   * once, after the last layer has deployed: a route declared later is refused by the registry.
   */
  serveRoutes(): void {
    if (!this.resolveDynamic) throw new Error("gateway: serveRoutes was called twice");
    const noted = this.args.routes.seal();
    const unreachable = noted.filter((r) => !r.zones.some((zone) => GATEWAY_ZONES.includes(zone)));
    if (unreachable.length > 0) {
      throw new Error(
        unreachable
          .map((r) => `workload ${r.workload}: its routed port ${r.port} is offered in ${r.zones.join(", ") || "no zone"}, none of the gateway's zones (${GATEWAY_ZONES.join(", ")}); offer admin UIs in monitoring, APIs in frontend`)
          .join("\n"),
      );
    }
    const https = new Set(this.args.httpsBackends ?? []);
    const dashboard: NotedRoute = { workload: "traefik", route: { host: `traefik.${this.args.domain}`, port: "websecure", basicAuth: true, rateLimit: ADMIN_RATE_LIMIT }, port: 0, zones: GATEWAY_ZONES };
    const routes: pulumi.Output<GatewayRoute>[] = [...noted, dashboard].map((entry) => {
      const { route } = entry;
      this.urls[entry.workload] = `https://${route.host}${route.pathPrefix ?? "/"}`;
      const backend = entry === dashboard ? { internal: DASHBOARD_SERVICE } : { url: `${route.tls || https.has(entry.workload) ? "https" : "http"}://${entry.workload}:${entry.port}` };
      const plain: GatewayRoute = { name: entry.workload, host: route.host, pathPrefix: route.pathPrefix, backend, rateLimit: route.rateLimit, ...(route.longPolls ? { longPolls: route.longPolls } : {}) };
      if (!route.basicAuth) return pulumi.output(plain);
      const login = route.backendLogin;
      if (login) {
        this.credentials[entry.workload] = pulumi.secret(pulumi.output({ user: login.user, password: login.password }));
        return pulumi.secret(pulumi.output(login.bcryptHash)).apply((hash): GatewayRoute => ({ ...plain, users: [`${login.user}:${hash}`], forwardAuthorization: true }));
      }
      // bcryptHash is computed once, when the password is created, and kept in the state (Go's
      // bcrypt, cost 10, "$2a$"), so the rendered file is stable across runs; it hashes only the
      // first 72 bytes, far above these 32 characters.
      const password = new random.RandomPassword(`${this.componentName}-${entry.workload}-auth`, { length: 32, special: false }, { parent: this });
      this.credentials[entry.workload] = pulumi.secret(pulumi.output({ user: ADMIN_USER, password: password.result }));
      return pulumi.secret(password.bcryptHash).apply((hash): GatewayRoute => ({ ...plain, users: [`${ADMIN_USER}:${hash}`] }));
    });
    const resolve = this.resolveDynamic;
    this.resolveDynamic = undefined;
    const certificate = this.args.certificate.kind === "files" ? { certFile: CERT_FILE, keyFile: KEY_FILE } : undefined;
    const clientCertificate = this.args.consul ? { certFile: CONSUL_CLIENT_CERT_FILE, keyFile: CONSUL_CLIENT_KEY_FILE } : undefined;
    resolve(pulumi.all(routes).apply((all) => renderTraefikDynamic({ routes: all, caFile: CA_FILE, certificate, clientCertificate })));
  }
}
