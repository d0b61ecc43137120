/** Admin API for the proxied-request log: a page (GET /admin/logs) or a live stream (GET /admin/logs/stream, SSE). */
import { Elysia, t } from "elysia";
import { requireAdmin, type AdminAuth } from "../admin/plugin.ts";
import type { RequestLogger } from "../server/requestlog.ts";

const POLL_MS = 500;
const HEARTBEAT_MS = 15_000;

export interface LogsAdminDeps {
  auth: AdminAuth;
  requestLog: Pick<RequestLogger, "list">;
  /** keep the stream's connection open past the idle timeout */
  holdOpen: (request: Request, response: Response) => void;
}

export function logsAdminPlugin(d: LogsAdminDeps) {
  const query = t.Object({
    limit: t.Optional(t.Integer({ minimum: 1, maximum: 1000 })),
    after: t.Optional(t.Integer({ minimum: 0 })),
    project: t.Optional(t.String({ maxLength: 63 })),
  });
  return new Elysia({ name: "hubgate-logs-admin" })
    .get(
      "/admin/logs",
      async ({ request, query: q }) => {
        const who = await requireAdmin(d.auth, request);
        const project = who.kind === "project" ? who.project : q.project;
        return { logs: await d.requestLog.list({ limit: q.limit, afterId: q.after, project }) };
      },
      { query, detail: { tags: ["admin"], summary: "Proxied-request log, newest page or after a cursor" } },
    )
    .get(
      "/admin/logs/stream",
      async ({ request, query: q }) => {
        const who = await requireAdmin(d.auth, request);
        const project = who.kind === "project" ? who.project : q.project;
        let after = q.after ?? (await d.requestLog.list({ limit: 1, project })).at(-1)?.id ?? 0;
        const enc = new TextEncoder();
        let timer: ReturnType<typeof setInterval> | undefined;
        let beat: ReturnType<typeof setInterval> | undefined;
        const body = new ReadableStream<Uint8Array>({
          start(c) {
            c.enqueue(enc.encode(": hubgate request log\n\n"));
            let polling = false;
            timer = setInterval(() => {
              if (polling) return; // one read at a time: a slow store skips ticks rather than piling reads up
              polling = true;
              d.requestLog
                .list({ afterId: after, limit: 500, project })
                .then((rows) => {
                  for (const l of rows) {
                    after = l.id;
                    c.enqueue(enc.encode(`id: ${l.id}\nevent: log\ndata: ${JSON.stringify(l)}\n\n`));
                  }
                })
                .catch(() => {
                  clearInterval(timer);
                  clearInterval(beat);
                  c.close();
                })
                .finally(() => (polling = false));
            }, POLL_MS);
            beat = setInterval(() => c.enqueue(enc.encode(": keep-alive\n\n")), HEARTBEAT_MS);
          },
          cancel() {
            clearInterval(timer);
            clearInterval(beat);
          },
        });
        const res = new Response(body, { headers: { "content-type": "text/event-stream", "cache-control": "no-store", "x-accel-buffering": "no" } });
        d.holdOpen(request, res);
        return res;
      },
      { query, detail: { tags: ["admin"], summary: "Live proxied-request log (Server-Sent Events)" } },
    );
}
