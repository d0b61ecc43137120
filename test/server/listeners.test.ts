/** Listeners: TCP by default, a unix socket instead of it, or both when both are set. */
import { expect, test } from "bun:test";
import { join } from "node:path";
import { startGateway, tempDir } from "../helpers/gateway.ts";

const overUnix = async (socket: string, path: string) => fetch(`http://localhost${path}`, { unix: socket } as RequestInit);

test("unix_socket and port both set: both listen, serve the same gateway, and drain together", async () => {
  const sock = join(tempDir(), "hubgate.sock");
  const gw = await startGateway(`[server]\nport = 0\nunix_socket = "${sock}"\n`);
  try {
    expect(gw.servers).toHaveLength(2);
    const viaTcp = await fetch(`${gw.url.href}healthz`);
    const viaSocket = await overUnix(sock, "/healthz");
    expect([viaTcp.status, viaSocket.status]).toEqual([200, 200]);
    // one gateway behind both: the same route table version in /stats
    const stats = async (r: Response) => ((await r.json()) as { config: { version: number } }).config.version;
    expect(await stats(await overUnix(sock, "/stats"))).toBe(await stats(await fetch(`${gw.url.href}stats`)));
    const listening = gw.lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === "listening")!;
    expect(listening.unix_socket).toBe(sock);
    expect(String(listening.url)).toStartWith("http://127.0.0.1:");
  } finally {
    await gw.shutdown();
  }
  expect(await overUnix(sock, "/healthz").then(() => "served", () => "closed")).toBe("closed");
  expect(await fetch(`${gw.url.href}healthz`).then(() => "served", () => "closed")).toBe("closed");
});

test("unix_socket alone replaces the TCP listener (no port opened)", async () => {
  const sock = join(tempDir(), "hubgate.sock");
  const dir = tempDir();
  const gw = await startGateway(`[server]\nunix_socket = "${sock}"\n[storage]\npath = "${join(dir, "h.db")}"\n`);
  try {
    expect(gw.servers).toHaveLength(1);
    expect(gw.server.port).toBeUndefined();
    expect((await overUnix(sock, "/healthz")).status).toBe(200);
  } finally {
    await gw.shutdown();
  }
});
