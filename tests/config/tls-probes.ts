// What a client sees when it dials a TLS-only port: a verified handshake, a refused one, or a
// plain-text exchange that gets no answer. Shared by the Redis and RabbitMQ TLS tests.
import { connect as netConnect } from "node:net";
import { connect as tlsConnect } from "node:tls";

export type HandshakeResult = { ok: true; protocol: string } | { ok: false; code: string };

/** A TLS handshake that verifies the server against `ca` and `servername` (Node's default checks). */
export function tlsHandshake(port: number, options: { ca: string; servername: string; maxVersion?: "TLSv1.2" | "TLSv1.3"; minVersion?: "TLSv1" | "TLSv1.1" | "TLSv1.2" }): Promise<HandshakeResult> {
  return new Promise((resolve) => {
    const socket = tlsConnect({ host: "127.0.0.1", port, ca: options.ca, servername: options.servername, rejectUnauthorized: true, ...(options.maxVersion ? { maxVersion: options.maxVersion } : {}), ...(options.minVersion ? { minVersion: options.minVersion } : {}) });
    const timer = setTimeout(() => finish({ ok: false, code: "TIMEOUT" }), 15_000);
    const finish = (result: HandshakeResult) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    socket.once("secureConnect", () => finish({ ok: true, protocol: socket.getProtocol() ?? "unknown" }));
    socket.once("error", (error: NodeJS.ErrnoException) => finish({ ok: false, code: error.code ?? error.message }));
  });
}

/**
 * Sends `request` in plain text and collects whatever comes back until the server closes the
 * connection (or `waitMs` passes). A TLS-only server answers nothing a plain client can read.
 */
export function plainExchange(port: number, request: Buffer | string, waitMs = 5_000): Promise<{ reply: string; closedByServer: boolean }> {
  return new Promise((resolve) => {
    const socket = netConnect({ host: "127.0.0.1", port });
    let reply = "";
    let done = false;
    const finish = (closedByServer: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ reply, closedByServer });
    };
    const timer = setTimeout(() => finish(false), waitMs);
    socket.on("connect", () => socket.write(request));
    socket.on("data", (chunk: Buffer) => {
      reply += chunk.toString("latin1");
    });
    socket.on("close", () => finish(true));
    socket.on("error", () => finish(true));
  });
}
