import { defineConfig } from "vitest/config";

// Real-server tests start postgres, pgbouncer, redis-server and rabbitmq nodes; on a 2-core
// machine more than two files at once only makes each of them time out.
export default defineConfig({
  test: {
    include: ["tests/**/*.test.ts", "services/*/test/**/*.test.ts", "policies/test/**/*.test.ts"],
    pool: "forks",
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ["default"],
  },
});
