import { Redis, type RedisOptions } from "ioredis";

export { Redis } from "ioredis";

export interface RedisClientOptions {
  /** redis://host:port/db, without a password. */
  url: string;
  /** Read from REDIS_PASSWORD_FILE by the service's env spec. */
  password?: string;
  username?: string;
  connectionName: string;
  /** Fail a command instead of queueing it forever while Redis is away. */
  commandTimeoutMs?: number;
  /** Where connection errors are reported (ioredis keeps reconnecting). */
  onError?: (error: Error) => void;
}

export function createRedis(options: RedisClientOptions): Redis {
  const config: RedisOptions = {
    connectionName: options.connectionName,
    maxRetriesPerRequest: 2,
    commandTimeout: options.commandTimeoutMs ?? 2000,
    enableOfflineQueue: true,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
  };
  if (options.password !== undefined) config.password = options.password;
  if (options.username !== undefined) config.username = options.username;
  const client = new Redis(options.url, config);
  // Reconnection is ioredis's job; an unhandled 'error' event would crash the process.
  client.on("error", (error: Error) => options.onError?.(error));
  return client;
}

export async function checkRedis(client: Redis): Promise<void> {
  const answer = await client.ping();
  if (answer !== "PONG") throw new Error(`unexpected PING answer ${answer}`);
}

/** QUIT lets pending replies arrive; disconnect if Redis is already gone. */
export async function closeRedis(client: Redis): Promise<void> {
  if (client.status === "end") return;
  try {
    await client.quit();
  } catch {
    client.disconnect();
  }
}
