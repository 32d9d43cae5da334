import { createHash } from "node:crypto";
import { pause } from "@fundament/kit";
import { jwks, type TokenKeys } from "./token-keys";

/** The JWKS document's entity tag: replicas holding the same keys give the same tag. */
export function jwksEtag(keys: TokenKeys): string {
  return `"${createHash("sha256").update(JSON.stringify(jwks(keys))).digest("base64url").slice(0, 22)}"`;
}

/** RFC 9110 If-None-Match: `*`, or a list of tags, weak ones compared as strong (a GET). */
export function etagMatches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false;
  return ifNoneMatch.split(",").some((tag) => {
    const trimmed = tag.trim();
    return trimmed === "*" || trimmed.replace(/^W\//, "") === etag;
  });
}

export type KeySetWake = "changed" | "timeout" | "closing" | "aborted";

/**
 * Holds the JWKS long polls of config and gpu-jobs until this replica's key set changes: a key
 * retired here reaches their verifiers at once instead of at their key set's maximum age.
 */
export class KeySetChanges {
  private readonly waiters = new Set<(reason: "changed" | "closing") => void>();
  private closed = false;

  /** The key set in use was replaced. */
  announce(): void {
    for (const waiter of [...this.waiters]) waiter("changed");
  }

  /** Wakes every poll and answers new ones at once, so they do not hold app.close() for their wait. */
  close(): void {
    this.closed = true;
    for (const waiter of [...this.waiters]) waiter("closing");
  }

  get waiting(): number {
    return this.waiters.size;
  }

  /** Registers before its first await: a change right after the caller read the keys still wakes it. */
  async wait(ms: number, signal?: AbortSignal): Promise<KeySetWake> {
    if (this.closed) return "closing";
    let waiter: (reason: "changed" | "closing") => void = () => undefined;
    const woken = new Promise<"changed" | "closing">((resolve) => {
      waiter = resolve;
    });
    this.waiters.add(waiter);
    const timer = pause(ms, signal);
    try {
      return await Promise.race([woken, timer.done]);
    } finally {
      this.waiters.delete(waiter);
      timer.cancel();
    }
  }
}
