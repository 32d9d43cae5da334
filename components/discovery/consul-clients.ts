import * as pulumi from "@pulumi/pulumi";
import { CONSUL_API_URL } from "./consul";

/** What a service needs to register and discover: its token, the CA and a client certificate (Consul verifies HTTPS clients). */
export interface ConsulServiceClient {
  token: pulumi.Input<string>;
  ca: pulumi.Input<string>;
  cert: pulumi.Input<string>;
  key: pulumi.Input<string>;
  /** Docker: the service's name (its one container); Kubernetes: unset, the pod registers its own address. */
  serviceAddress?: string;
}

/**
 * The kit's Consul variables (services/kit/src/consul-env.ts) for one service: the API URL in
 * the environment, everything else as files (`*_FILE`). The key and token are secrets; the CA and
 * certificate travel the same way because the services take every file through `*_FILE`.
 */
export function consulServiceSettings(client: ConsulServiceClient): {
  env: Record<string, pulumi.Input<string>>;
  secrets: Record<string, { variable: string; value: pulumi.Input<string> }>;
} {
  return {
    env: { CONSUL_HTTP_ADDR: CONSUL_API_URL, ...(client.serviceAddress ? { CONSUL_SERVICE_ADDRESS: client.serviceAddress } : {}) },
    secrets: {
      "consul-token": { variable: "CONSUL_HTTP_TOKEN", value: pulumi.secret(client.token) },
      "consul-ca": { variable: "CONSUL_CACERT", value: client.ca },
      "consul-client-cert": { variable: "CONSUL_CLIENT_CERT", value: client.cert },
      "consul-client-key": { variable: "CONSUL_CLIENT_KEY", value: pulumi.secret(client.key) },
    },
  };
}
