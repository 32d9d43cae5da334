import { createHash } from "node:crypto";
import { isIP } from "node:net";
import { Redis, type RedisOptions } from "ioredis";

export { Redis } from "ioredis";

/** How the client verifies a TLS server: the CA that signed its certificate (PEM). */
export interface ServerTls {
  ca: string;
  /** The name the certificate must carry; default the URL's host. */
  servername?: string;
}

export interface RedisClientOptions {
  /** redis://host:port/db or rediss:// (TLS), without a password. */
  url: string;
  /** With rediss://: verify the server against this CA (REDIS_CA_FILE) instead of the system's. */
  tls?: ServerTls;
  /** Read from REDIS_PASSWORD_FILE by the service's env spec. */
  password?: string;
  username?: string;
  connectionName: string;
  /** Fail a command instead of queueing it forever while Redis is away. */
  commandTimeoutMs?: number;
  /** Where connection errors are reported (ioredis keeps reconnecting). */
  onError?: (error: Error) => void;
}

/**
 * ioredis's TLS options for a URL: none for redis://, and for rediss:// verification always on
 * (Node's default), against the given CA and for the URL's host name. A CA with a redis:// URL is
 * refused: it would read as "verified" while the connection is plain text.
 */
export function redisTlsOptions(url: string, tls: ServerTls | undefined): RedisOptions["tls"] {
  const parsed = new URL(url);
  if (parsed.protocol === "redis:") {
    if (tls !== undefined) throw new Error(`REDIS_URL: a CA is given (REDIS_CA_FILE) but ${parsed.protocol}// is plain text; use rediss://`);
    return undefined;
  }
  if (parsed.protocol !== "rediss:") throw new Error(`REDIS_URL: must start with redis:// or rediss:// (got ${parsed.protocol}//)`);
  const host = parsed.hostname.replace(/^\[|\]$/g, "");
  const servername = tls?.servername ?? (isIP(host) === 0 ? host : undefined);
  return { ...(tls ? { ca: tls.ca } : {}), ...(servername !== undefined ? { servername } : {}), rejectUnauthorized: true };
}

/**
 * The URL without its user part, and the user it named. ioredis takes `user@` from a URL as the
 * user with an empty password, and an empty password from the URL wins over the one given
 * beside it (it fills only unset options): the ACL user then authenticates with "" and is refused.
 */
function splitUser(url: string): { url: string; username?: string } {
  const parsed = new URL(url);
  const username = parsed.username === "" ? undefined : decodeURIComponent(parsed.username);
  parsed.username = "";
  parsed.password = "";
  return { url: parsed.toString(), ...(username !== undefined ? { username } : {}) };
}

export function createRedis(options: RedisClientOptions): Redis {
  const tls = redisTlsOptions(options.url, options.tls);
  const target = splitUser(options.url);
  const config: RedisOptions = {
    connectionName: options.connectionName,
    maxRetriesPerRequest: 2,
    commandTimeout: options.commandTimeoutMs ?? 2000,
    enableOfflineQueue: true,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
  };
  if (tls !== undefined) config.tls = tls;
  if (options.password !== undefined) config.password = options.password;
  const username = options.username ?? target.username;
  if (username !== undefined) config.username = username;
  const client = new Redis(target.url, config);
  // Reconnection is ioredis's job; an unhandled 'error' event would crash the process.
  client.on("error", (error: Error) => options.onError?.(error));
  return client;
}

/** A Lua script run by its SHA-1 (EVALSHA), so each call sends a digest instead of the script. */
export interface RedisScript {
  readonly sha1: string;
  run(client: Redis, keys: readonly string[], args: readonly string[]): Promise<unknown>;
}

/**
 * Scripts are sent once per server rather than with every call: EVALSHA, and on NOSCRIPT (a
 * restarted or failed-over Redis has an empty script cache) the script itself with EVAL, which
 * also caches it again. Hot paths (one script per login) save the script's bytes and Redis's
 * hashing of them on every call.
 */
export function redisScript(lua: string): RedisScript {
  const sha1 = createHash("sha1").update(lua).digest("hex");
  return {
    sha1,
    async run(client, keys, args) {
      try {
        return await client.evalsha(sha1, keys.length, ...keys, ...args);
      } catch (error) {
        if (!(error instanceof Error) || !error.message.startsWith("NOSCRIPT")) throw error;
        return client.eval(lua, keys.length, ...keys, ...args);
      }
    },
  };
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
