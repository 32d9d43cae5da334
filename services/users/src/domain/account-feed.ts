import { PostgresListener, type Logger, type PostgresListenerOptions } from "@fundament/kit";
import { AccountCache, type AccountCacheOptions } from "./account-cache";

/** The channel migrations/005_account_change_notify.sql NOTIFYs on; the payload is an account id or "*". */
export const ACCOUNT_CHANNEL = "users_changed";
/** The LISTEN session's application_name, so an operator finds it in pg_stat_activity. */
export const ACCOUNT_FEED_APPLICATION = "users-account-feed";

/** What the app needs of the feed: the cache it keeps, whether it hears changes, and a way to stop. */
export interface AccountFeed {
  readonly cache: AccountCache;
  readonly listening: boolean;
  close(): Promise<void>;
}

export interface AccountFeedOptions {
  connection: PostgresListenerOptions["connection"];
  logger: Logger;
  cache: Omit<AccountCacheOptions, "now">;
  /** The listener's first reconnect delay and heartbeat period (the kit's PostgresListener defaults otherwise). */
  reconnectDelayMs?: number;
  heartbeatMs?: number;
}

/**
 * The account cache and the LISTEN session that keeps it coherent: a notification drops the
 * account named; a lost connection flushes everything (what was notified meanwhile is lost), and
 * the cache holds nothing until the session listens again.
 */
export class PostgresAccountFeed implements AccountFeed {
  readonly cache: AccountCache;
  private listener: PostgresListener | undefined;

  private constructor(cacheOptions: AccountCacheOptions) {
    this.cache = new AccountCache(this, cacheOptions);
  }

  static async start(options: AccountFeedOptions): Promise<PostgresAccountFeed> {
    const feed = new PostgresAccountFeed(options.cache);
    feed.listener = await PostgresListener.start({
      connection: options.connection,
      channels: [ACCOUNT_CHANNEL],
      logger: options.logger,
      name: "users account feed",
      onNotification: (_channel, payload) => (payload === "*" ? feed.cache.flush() : feed.cache.changed(payload)),
      onLost: () => feed.cache.flush(),
      ...(options.reconnectDelayMs === undefined ? {} : { reconnectDelayMs: options.reconnectDelayMs }),
      ...(options.heartbeatMs === undefined ? {} : { heartbeatMs: options.heartbeatMs }),
    });
    return feed;
  }

  get continuity(): number | undefined {
    return this.listener?.continuity;
  }

  get listening(): boolean {
    return this.listener?.listening ?? false;
  }

  async close(): Promise<void> {
    await this.listener?.close();
    this.cache.flush();
  }
}
