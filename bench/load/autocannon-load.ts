// One autocannon run in its own process (so the load generator never shares the servers' event
// loop), for bench/services.ts. Argument: a JSON LoadSpec. Prints one JSON LoadResult on stdout.
// With a tokens file, each request carries the next token of the file in turn, so a run can hold
// many users' sessions at once.
import { readFileSync } from "node:fs";
import autocannon from "autocannon";

export interface LoadSpec {
  url: string;
  connections: number;
  seconds: number;
  /** A file of bearer tokens, one a line; absent, requests carry no authorization. */
  tokensFile?: string;
  /** The line of the tokens file the first request takes (default 0). */
  startAt?: number;
  /** Stop after this many requests instead of after `seconds`. */
  amount?: number;
}

export interface LoadResult {
  requestsPerSecond: number;
  p99Ms: number;
  p50Ms: number;
  non2xx: number;
  errors: number;
}

function main(): void {
  const spec = JSON.parse(process.argv[2] ?? "") as LoadSpec;
  const tokens = spec.tokensFile === undefined ? [] : readFileSync(spec.tokensFile, "utf8").split("\n").filter((line) => line !== "");
  let next = tokens.length === 0 ? 0 : (spec.startAt ?? 0) % tokens.length;
  const instance = autocannon(
    {
      url: spec.url,
      connections: spec.connections,
      duration: spec.seconds,
      ...(spec.amount === undefined ? {} : { amount: spec.amount }),
      ...(tokens.length === 0
        ? {}
        : {
            requests: [
              {
                setupRequest: (request) => {
                  const token = tokens[next]!;
                  next = (next + 1) % tokens.length;
                  return { ...request, headers: { ...request.headers, authorization: `Bearer ${token}` } };
                },
              },
            ],
          }),
    },
    (error, result) => {
      if (error) {
        console.error(error);
        process.exit(1);
      }
      const out: LoadResult = {
        requestsPerSecond: result.requests.average,
        p99Ms: result.latency.p99,
        p50Ms: result.latency.p50,
        non2xx: result.non2xx,
        errors: result.errors,
      };
      process.stdout.write(`${JSON.stringify(out)}\n`);
    },
  );
  process.once("SIGINT", () => instance.stop());
}

main();
