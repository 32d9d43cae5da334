import type { Provider } from "../../src/placement/rank-offers";
import { AwsKubernetesAdapter } from "../../src/providers/aws-kubernetes";
import { GenesisAdapter } from "../../src/providers/genesis";
import { LambdaAdapter } from "../../src/providers/lambda";
import { PaperspaceAdapter } from "../../src/providers/paperspace";
import type { ProviderAdapter } from "../../src/providers/provider-adapter";
import { RunpodAdapter } from "../../src/providers/runpod";
import { VastaiAdapter } from "../../src/providers/vastai";
import { VALID_KEY } from "./fake-http-server";
import { type FakeProvider, startFakeGenesis, startFakeKubernetes, startFakeLambda, startFakePaperspace, startFakeRunpod, startFakeVastai } from "./fake-providers";

export const GPU_NAMESPACE = "gpu-jobs";
/** Generous for a loaded machine; a held answer (slow_success) is a timeout whatever its length. */
export const TIMEOUT_MS = 3000;

export type HttpProvider = Exclude<Provider, "local">;
export const HTTP_PROVIDERS: HttpProvider[] = ["runpod", "vastai", "lambda", "genesis", "paperspace", "aws"];

export async function startFake(provider: HttpProvider): Promise<FakeProvider> {
  switch (provider) {
    case "runpod":
      return startFakeRunpod();
    case "vastai":
      return startFakeVastai();
    case "lambda":
      return startFakeLambda();
    case "genesis":
      return startFakeGenesis();
    case "paperspace":
      return startFakePaperspace();
    case "aws":
      return startFakeKubernetes(GPU_NAMESPACE);
  }
}

/** The real adapter pointed at a fake; `apiKey` lets a test present a wrong key. */
export function adapterFor(provider: HttpProvider, baseUrl: string, options: { apiKey?: string; reliabilityPrior?: number } = {}): ProviderAdapter {
  const apiKey = options.apiKey ?? VALID_KEY;
  const reliabilityPrior = options.reliabilityPrior ?? 0.95;
  const common = { baseUrl, apiKey, timeoutMs: TIMEOUT_MS, reliabilityPrior };
  switch (provider) {
    case "runpod":
      return new RunpodAdapter({ ...common, gpuCounts: [1], containerDiskInGb: 20 });
    case "vastai":
      return new VastaiAdapter({ ...common, diskGb: 20 });
    case "lambda":
      return new LambdaAdapter({ ...common, sshKeyName: "ops" });
    case "genesis":
      return new GenesisAdapter({
        ...common,
        image: "ubuntu-ml-nvidia-pytorch",
        sshKeyIds: ["key-1"],
        offers: [
          { type: "vcpu-24_memory-192g_nvidia-a100-1", gpuModel: "A100", gpuMemoryGiB: 80, gpuCount: 1, region: "NORD-NO-KRS-1", spot: false, pricePerHour: 1.6 },
          { type: "vcpu-192_memory-1920g_nvidia-h100-sxm5-8", gpuModel: "H100", gpuMemoryGiB: 80, gpuCount: 8, region: "NORD-NO-KRS-1", spot: false, pricePerHour: 19 },
        ],
      });
    case "paperspace":
      return new PaperspaceAdapter({ ...common, templateId: "t0nspur5", diskSizeGb: 50, offers: [{ type: "A100-80G", gpuModel: "A100", gpuMemoryGiB: 80, gpuCount: 1, region: "ny2", spot: false, pricePerHour: 3.18 }] });
    case "aws":
      return new AwsKubernetesAdapter({
        apiUrl: baseUrl,
        token: apiKey,
        namespace: GPU_NAMESPACE,
        timeoutMs: TIMEOUT_MS,
        poolLabel: "fundament.io/gpu-pool",
        reliabilityPrior,
        offers: [
          { type: "g5", gpuModel: "A10G", gpuMemoryGiB: 24, gpuCount: 1, region: "eu-central-1", spot: false, pricePerHour: 1.006 },
          { type: "g5", gpuModel: "A10G", gpuMemoryGiB: 24, gpuCount: 1, region: "eu-central-1", spot: true, pricePerHour: 0.42 },
        ],
      });
  }
}
