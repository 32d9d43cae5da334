import { EnvError } from "@fundament/kit";
import type { Provider } from "../placement/rank-offers";
import type { GpuJobsEnv } from "../service-env";
import { AwsKubernetesAdapter } from "./aws-kubernetes";
import type { ConfiguredOffer } from "./configured-offers";
import { GenesisAdapter } from "./genesis";
import { LambdaAdapter } from "./lambda";
import { LocalAdapter } from "./local";
import { PaperspaceAdapter } from "./paperspace";
import type { ProviderAdapter } from "./provider-adapter";
import { RunpodAdapter } from "./runpod";
import { VastaiAdapter } from "./vastai";

const PROVIDERS: readonly Provider[] = ["aws", "runpod", "vastai", "lambda", "paperspace", "genesis", "local"];

function offerTable(name: string, text: string, problems: string[]): ConfiguredOffer[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    problems.push(`${name}: must be JSON (${(error as Error).message})`);
    return [];
  }
  if (!Array.isArray(parsed)) {
    problems.push(`${name}: must be a JSON list`);
    return [];
  }
  parsed.forEach((entry: Record<string, unknown>, index) => {
    for (const field of ["type", "gpuModel", "region"]) if (typeof entry?.[field] !== "string") problems.push(`${name}[${index}].${field}: must be a string`);
    for (const field of ["gpuMemoryGiB", "gpuCount", "pricePerHour"]) if (typeof entry?.[field] !== "number" || !((entry[field] as number) > 0)) problems.push(`${name}[${index}].${field}: must be a positive number`);
    if (typeof entry?.spot !== "boolean") problems.push(`${name}[${index}].spot: must be true or false`);
  });
  return parsed as ConfiguredOffer[];
}

/** One adapter per provider in GPU_PROVIDERS, each with its key from its secret file; one EnvError naming every problem. */
export function adaptersFromEnv(config: GpuJobsEnv): Map<Provider, ProviderAdapter> {
  const problems: string[] = [];
  const adapters = new Map<Provider, ProviderAdapter>();
  const reliabilityPrior = Number(config.GPU_RELIABILITY_PRIOR);
  const timeoutMs = config.PROVIDER_TIMEOUT_MS;
  const need = (variable: string, value: string | undefined): string => {
    if (value === undefined) problems.push(`${variable}_FILE: required when GPU_PROVIDERS includes its provider`);
    return value ?? "";
  };
  for (const name of config.GPU_PROVIDERS) {
    if (!PROVIDERS.includes(name as Provider)) {
      problems.push(`GPU_PROVIDERS: unknown provider ${JSON.stringify(name)} (one of ${PROVIDERS.join(", ")})`);
      continue;
    }
    const provider = name as Provider;
    switch (provider) {
      case "runpod":
        adapters.set(provider, new RunpodAdapter({ apiKey: need("RUNPOD_API_KEY", config.RUNPOD_API_KEY), baseUrl: config.RUNPOD_API_URL, timeoutMs, gpuCounts: [1, 2, 4, 8], containerDiskInGb: 50, reliabilityPrior }));
        break;
      case "vastai":
        adapters.set(provider, new VastaiAdapter({ apiKey: need("VASTAI_API_KEY", config.VASTAI_API_KEY), baseUrl: config.VASTAI_API_URL, timeoutMs, diskGb: 50 }));
        break;
      case "lambda":
        adapters.set(provider, new LambdaAdapter({ apiKey: need("LAMBDA_API_KEY", config.LAMBDA_API_KEY), baseUrl: config.LAMBDA_API_URL, timeoutMs, sshKeyName: config.LAMBDA_SSH_KEY_NAME, reliabilityPrior }));
        break;
      case "paperspace":
        adapters.set(provider, new PaperspaceAdapter({ apiKey: need("PAPERSPACE_API_KEY", config.PAPERSPACE_API_KEY), baseUrl: config.PAPERSPACE_API_URL, timeoutMs, templateId: config.PAPERSPACE_TEMPLATE_ID, diskSizeGb: 50, offers: offerTable("PAPERSPACE_OFFERS", config.PAPERSPACE_OFFERS, problems), reliabilityPrior }));
        break;
      case "genesis":
        adapters.set(provider, new GenesisAdapter({ apiKey: need("GENESIS_API_KEY", config.GENESIS_API_KEY), baseUrl: config.GENESIS_API_URL, timeoutMs, image: config.GENESIS_IMAGE, sshKeyIds: config.GENESIS_SSH_KEY_IDS, offers: offerTable("GENESIS_OFFERS", config.GENESIS_OFFERS, problems), reliabilityPrior }));
        break;
      case "aws":
        adapters.set(provider, new AwsKubernetesAdapter({ apiUrl: config.KUBERNETES_API_URL, token: need("KUBERNETES_TOKEN", config.KUBERNETES_TOKEN), namespace: config.AWS_GPU_NAMESPACE, timeoutMs, offers: offerTable("AWS_GPU_OFFERS", config.AWS_GPU_OFFERS, problems), poolLabel: config.AWS_GPU_POOL_LABEL, reliabilityPrior }));
        break;
      case "local":
        adapters.set(provider, new LocalAdapter({ stateDir: config.LOCAL_STATE_DIR, offer: { gpuModel: "local", gpuMemoryGiB: 1, gpuCount: 1, pricePerHour: 0.01 }, path: "/usr/local/bin:/usr/bin:/bin" }));
        break;
    }
  }
  if (adapters.size === 0 && problems.length === 0) problems.push("GPU_PROVIDERS: must name at least one provider");
  if (problems.length > 0) throw new EnvError(problems);
  return adapters;
}
