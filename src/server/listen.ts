/**
 * Binding the listeners, owned by this process alone. Bun's `Bun.serve` turns SO_REUSEPORT on for some
 * option sets unless told otherwise, and then a second process on a taken port starts "listening" and
 * takes half the traffic; `reusePort` is therefore always passed explicitly, false unless the caller
 * asks for shared listening on purpose (the seam for supervised workers inside one binary). A taken
 * address is an error naming it. A unix socket file left behind by a process that died without closing
 * it (SIGKILL) is removed when nothing answers on it; one that answers is in use.
 */
import { connect } from "node:net";
import { existsSync, lstatSync, unlinkSync } from "node:fs";
import type { Server } from "bun";
import { GatewayError } from "../core/errors.ts";
import type { Logger } from "../core/log.ts";

/** host:port as an operator would type it (IPv6 in brackets). */
export function hostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

const errCode = (e: unknown): string | undefined => {
  const c = (e as { code?: unknown }).code;
  return typeof c === "string" ? c : undefined;
};

function listenError(e: unknown, where: string): GatewayError {
  const code = errCode(e);
  if (code === "EADDRINUSE")
    return new GatewayError("address_in_use", `cannot listen on ${where}: EADDRINUSE, the address is already in use (another hubgate or another program holds it)`, 500, { cause: e });
  return new GatewayError("listen_failed", `cannot listen on ${where}: ${code ?? (e instanceof Error ? e.message : String(e))}`, 500, { cause: e });
}

/** Binds host:port. `reusePort: true` shares the port with other sockets that ask for it too (load balancing by the kernel). */
export function listenTcp(options: Bun.Serve.Options<unknown>, host: string, port: number, reusePort: boolean): Server<unknown> {
  try {
    return Bun.serve({ ...options, hostname: host, port, reusePort } as unknown as Bun.Serve.Options<unknown>);
  } catch (e) {
    throw listenError(e, hostPort(host, port));
  }
}

/** true when something accepts connections on the socket file */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ path });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

export async function listenUnix(options: Bun.Serve.Options<unknown>, path: string, log: Logger): Promise<Server<unknown>> {
  if (existsSync(path)) {
    if (!lstatSync(path).isSocket()) throw new GatewayError("listen_failed", `cannot listen on unix socket ${path}: the path exists and is not a socket`, 500);
    if (await answers(path))
      throw new GatewayError("address_in_use", `cannot listen on unix socket ${path}: EADDRINUSE, another process is serving on it`, 500);
    unlinkSync(path);
    log.warn("removed a stale unix socket (left by a process that did not shut down)", { unix_socket: path });
  }
  try {
    // (bun-types declares idleTimeout only for host:port servers; Bun applies it to unix sockets too)
    return Bun.serve({ ...options, unix: path } as unknown as Bun.Serve.Options<unknown>);
  } catch (e) {
    throw listenError(e, `unix socket ${path}`);
  }
}
