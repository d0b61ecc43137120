/** Loopback upstreams for tests: a Bun.serve on 127.0.0.1:0 with a handler. */
import type { Server } from "bun";

export function upstream(handler: (req: Request, server: Server<undefined>) => Response | Promise<Response>): { server: Server<undefined>; url: string; stop(): void } {
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, idleTimeout: 0, fetch: handler });
  return { server, url: `http://127.0.0.1:${server.port}`, stop: () => void server.stop(true) };
}

/** An endpoint block for gateway.toml pointing at a loopback upstream (auth off, private allowed). */
export function openEndpoint(project: string, slug: string, url: string, extra = ""): string {
  return `
[[projects]]
id = "${project}"
[[projects.endpoints]]
slug = "${slug}"
upstream_url = "${url}"
auth_mode = "none"
allow_private = true
${extra}
`;
}
