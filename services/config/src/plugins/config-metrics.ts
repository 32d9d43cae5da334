import { Gauge, type Registry } from "prom-client";
import type { Pool } from "pg";
import type { ChangeFeed } from "../change-feed";

/**
 * Two numbers an operator alerts on: events stuck in the outbox (the broker is refusing them)
 * and watches held open (each is a client waiting on this replica).
 */
export function registerConfigMetrics(registry: Registry, pool: Pool, feed: ChangeFeed): void {
  new Gauge({
    name: "config_watches_waiting",
    help: "Watch long polls waiting for a change on this replica",
    registers: [registry],
    collect() {
      this.set(feed.waiting);
    },
  });
  new Gauge({
    name: "config_outbox_pending",
    help: "Change events committed but not yet confirmed by the broker",
    registers: [registry],
    async collect() {
      const { rows } = await pool.query<{ pending: string }>("SELECT count(*) AS pending FROM config_outbox");
      this.set(Number(rows[0]?.pending ?? 0));
    },
  });
}
