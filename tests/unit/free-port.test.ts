import { spawn } from "node:child_process";
import { createServer, type Server } from "node:net";
import { describe, expect, it } from "vitest";
import { listensOn, startOnFreePorts } from "../../scripts/local-servers/free-port";

const listen = (): Promise<{ server: Server; port: number }> =>
  new Promise((resolve) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      resolve({ server, port: typeof address === "object" && address ? address.port : 0 });
    });
  });

describe("startOnFreePorts", () => {
  it("starts again on new ports when the server could not bind, and hands back what the start returned", async () => {
    const tried: number[][] = [];
    const started = await startOnFreePorts(2, async (ports) => {
      tried.push(ports);
      if (tried.length < 3) throw new Error(`server exited 1: listen EADDRINUSE: address already in use 127.0.0.1:${ports[0]}`);
      return `up on ${ports.join(",")}`;
    });
    expect(tried).toHaveLength(3);
    for (const ports of tried) expect(new Set(ports).size).toBe(2);
    expect(started).toBe(`up on ${tried[2].join(",")}`);
  });

  it("does not retry a failure that is not a taken port, and gives up after the last attempt", async () => {
    let calls = 0;
    await expect(startOnFreePorts(1, async () => {
      calls += 1;
      throw new Error("init SQL failed: syntax error");
    })).rejects.toThrow("init SQL failed");
    expect(calls).toBe(1);
    calls = 0;
    await expect(startOnFreePorts(1, async () => {
      calls += 1;
      throw new Error("could not bind IPv4 address: Address already in use");
    }, 3)).rejects.toThrow("Address already in use");
    expect(calls).toBe(3);
  });
});

describe("listensOn", () => {
  it("tells the process that holds a listener from one that merely reaches the port", async () => {
    const { server, port } = await listen();
    try {
      expect(listensOn(process.pid, port)).toBe(true);
      // Another process on the same port number does not hold the socket.
      const other = spawn("sleep", ["5"]);
      try {
        expect(listensOn(other.pid as number, port)).toBe(false);
      } finally {
        other.kill();
      }
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    expect(listensOn(process.pid, port)).toBe(false);
  });
});
