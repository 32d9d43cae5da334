export interface KubeconfigInput {
  clusterName: string;
  endpoint: string;
  certificateAuthority: string;
  region: string;
}

/**
 * A kubeconfig for the new cluster that authenticates with `aws eks get-token` under the caller's
 * AWS credentials: it holds no token of its own, so it never expires, yet it is output as a
 * secret because it names the private endpoint and the CA.
 */
export function renderKubeconfig(input: KubeconfigInput): string {
  const user = `${input.clusterName}-aws`;
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: input.clusterName, cluster: { server: input.endpoint, "certificate-authority-data": input.certificateAuthority } }],
    contexts: [{ name: input.clusterName, context: { cluster: input.clusterName, user } }],
    "current-context": input.clusterName,
    users: [
      {
        name: user,
        user: {
          exec: {
            apiVersion: "client.authentication.k8s.io/v1beta1",
            command: "aws",
            args: ["eks", "get-token", "--cluster-name", input.clusterName, "--region", input.region, "--output", "json"],
            interactiveMode: "Never",
          },
        },
      },
    ],
  });
}
