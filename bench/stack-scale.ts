// `npm run bench -- stack-scale`: time to evaluate the real program (stacks/program.ts) through the
// mock engine for prod — VPC, EKS, GPU pools, charts and the platform — with 10 and with 100
// application services from generated stack configs, in alternating rounds after one warm-up.
//
// What "a service" is here: the service Deployments are the fixed set users/config
// (SERVICE_NAMES), so the generated configs scale the platform's applications the config can
// scale: each service gets its own MongoDB database, user, generated password (a
// RandomPassword resource), indexes and connection output (fundament:mongo.databases).
//
// Prints prod as shipped, both medians, and `stack-scale: ratio X.XX` = t(10) / t(100) x 10
// (1.0 = linear growth in the number of services; above 1, the fixed cost dominates). Target >= 0.8.
import { main } from "../stacks/program";
import { readStackConfig, runProgram } from "../scripts/mock-engine";
import { numericSetting } from "./support/bench-settings";
import { median } from "./support/statistics";

const ROUNDS = numericSetting("BENCH_ROUNDS", 3);

export function configWithServices(count: number): Record<string, string> {
  const config = readStackConfig("prod");
  const databases = Array.from({ length: count }, (_, i) => ({
    service: `app-${String(i + 1).padStart(3, "0")}`,
    indexes: [
      { collection: "assets", keys: { checksum: 1 }, unique: true },
      { collection: "assets", keys: { createdAt: -1 } },
    ],
  }));
  config["fundament:mongo"] = JSON.stringify({ ...(JSON.parse(config["fundament:mongo"] ?? "{}") as object), databases });
  return config;
}

/** Wall time and this process's CPU time: on a shared machine the CPU time is the steadier of the two. */
async function timed(config: Record<string, string>): Promise<{ ms: number; cpuMs: number; resources: number }> {
  const start = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  const run = await runProgram("prod", config, main);
  const used = process.cpuUsage(cpu);
  return { ms: Number(process.hrtime.bigint() - start) / 1e6, cpuMs: (used.user + used.system) / 1000, resources: run.resources.length };
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;

async function bench(): Promise<void> {
  // Silence the SDK's "undefined output" warnings: they are not what is measured.
  const warn = console.warn;
  console.warn = () => undefined;
  const cold = await timed(readStackConfig("prod"));
  const shipped = await timed(readStackConfig("prod"));
  console.log(`prod as shipped: ${seconds(shipped.ms)} wall, ${seconds(shipped.cpuMs)} CPU, ${shipped.resources} resources (target < 10 s; first run with module loading ${seconds(cold.ms)})`);
  const small = configWithServices(10);
  const large = configWithServices(100);
  const times: Record<"10" | "100", number[]> = { "10": [], "100": [] };
  const cpu: Record<"10" | "100", number[]> = { "10": [], "100": [] };
  let counts = { small: 0, large: 0 };
  for (let round = 0; round < ROUNDS; round++) {
    const a = await timed(small);
    const b = await timed(large);
    times["10"].push(a.ms);
    times["100"].push(b.ms);
    cpu["10"].push(a.cpuMs);
    cpu["100"].push(b.cpuMs);
    counts = { small: a.resources, large: b.resources };
  }
  console.warn = warn;
  const t10 = median(times["10"]);
  const t100 = median(times["100"]);
  console.log(`prod with 10 services: ${seconds(t10)} wall, ${seconds(median(cpu["10"]))} CPU (median of ${ROUNDS}, ${counts.small} resources)`);
  console.log(`prod with 100 services: ${seconds(t100)} wall, ${seconds(median(cpu["100"]))} CPU (median of ${ROUNDS}, ${counts.large} resources)`);
  console.log(`stack-scale: ratio ${((t10 / t100) * 10).toFixed(2)}`);
}

void bench().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
