/**
 * tools_allow / tools_deny. Decisions come from the JSON-RPC body (never from a header alone):
 * `tools/call` of a denied tool gets a JSON-RPC error from the gateway; a `tools/list` result is
 * filtered, whether it comes back as JSON or inside an SSE stream (other events pass untouched).
 */
import type { McpUpstreamRoute } from "./compile.ts";

export interface RpcMessage {
  jsonrpc?: string;
  id?: string | number | null;
  method?: string;
  params?: { name?: unknown } & Record<string, unknown>;
  result?: { tools?: { name: string }[] } & Record<string, unknown>;
}

export function toolAllowed(u: McpUpstreamRoute, name: string): boolean {
  if (u.toolsDeny.includes(name)) return false;
  return u.toolsAllow === undefined || u.toolsAllow.includes(name);
}

export const hasToolFilter = (u: McpUpstreamRoute) => u.toolsAllow !== undefined || u.toolsDeny.length > 0;

function filterMessage(u: McpUpstreamRoute, m: RpcMessage, listIds: Set<string>): RpcMessage {
  if (m.id === undefined || m.id === null || !listIds.has(String(m.id)) || !Array.isArray(m.result?.tools)) return m;
  return { ...m, result: { ...m.result, tools: m.result.tools.filter((t) => toolAllowed(u, t.name)) } };
}

/** JSON body: one message or a batch. */
export function filterJson(u: McpUpstreamRoute, text: string, listIds: Set<string>): string {
  try {
    const v = JSON.parse(text) as RpcMessage | RpcMessage[];
    return JSON.stringify(Array.isArray(v) ? v.map((m) => filterMessage(u, m, listIds)) : filterMessage(u, v, listIds));
  } catch {
    return text;
  }
}

/** SSE: rewrites the data of events that carry a tools/list result; streams everything else as it comes. */
export function filterSse(u: McpUpstreamRoute, body: ReadableStream<Uint8Array>, listIds: Set<string>): ReadableStream<Uint8Array> {
  const dec = new TextDecoder();
  const enc = new TextEncoder();
  let buf = "";
  const rewrite = (event: string): string => {
    const lines = event.split(/\r?\n/);
    const data = lines.filter((l) => l.startsWith("data:")).map((l) => l.slice(5).replace(/^ /, ""));
    if (!data.length) return event;
    const filtered = filterJson(u, data.join("\n"), listIds);
    if (filtered === data.join("\n")) return event;
    return [...lines.filter((l) => !l.startsWith("data:")), `data: ${filtered}`].join("\n");
  };
  return body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, c) {
        buf += dec.decode(chunk, { stream: true });
        let i: number;
        while ((i = buf.search(/\r?\n\r?\n/)) >= 0) {
          const sep = /\r?\n\r?\n/.exec(buf.slice(i))![0];
          c.enqueue(enc.encode(rewrite(buf.slice(0, i)) + sep));
          buf = buf.slice(i + sep.length);
        }
      },
      flush(c) {
        if (buf) c.enqueue(enc.encode(rewrite(buf)));
      },
    }),
  );
}
