import { describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { join } from "node:path";
import { inProcess, startGateway } from "../helpers/gateway.ts";
import { openEndpoint } from "../helpers/upstream.ts";
import type { NewRequestLog, RequestLogRepo } from "../../src/store/index.ts";
import { RequestLogger } from "../../src/server/requestlog.ts";

const row = (i: number): NewRequestLog => ({ at: Date.now(), project: "p", endpoint: "e", tokenId: null, method: "GET", path: `/r${i}`, status: 200, ms: 1, bytes: 10, provider: null, error: null });

describe("request log batching", () => {
  test("rows are written in one batch after a short delay, or at once past the batch size", async () => {
    const { gw } = await inProcess("");
    // the store's repository, recording the batches handed to it
    const batches: number[] = [];
    const repo: RequestLogRepo = { ...gw.store.requestLogs, appendMany: (rows) => (batches.push(rows.length), gw.store.requestLogs.appendMany(rows)) };
    const log = new RequestLogger({ repo, logging: () => gw.config.logging, log: gw.log });
    for (let i = 0; i < 3; i++) log.write(row(i));
    expect(batches).toEqual([]); // not one commit per row
    await Bun.sleep(250);
    expect(batches).toEqual([3]);
    expect((await gw.store.requestLogs.list({ limit: 10 })).map((l) => l.path)).toEqual(["/r0", "/r1", "/r2"]);
    for (let i = 3; i < 3 + 256; i++) log.write(row(i));
    expect(batches).toEqual([3, 256]); // the full batch was handed over without waiting for the timer
    log.write(row(259));
    expect(await log.list({ limit: 1000 })).toHaveLength(260); // readers see rows still waiting for their batch
    expect(batches).toEqual([3, 256, 1]);
    await log.close();
    await gw.close();
  });

  test("shutdown writes what is pending; nothing is lost", async () => {
    const { gw, dir } = await inProcess("");
    for (let i = 0; i < 5; i++) gw.requestLog.write(row(i));
    await gw.close();
    const db = new Database(join(dir, "hubgate.db"), { readonly: true });
    expect(db.query<{ n: number }, []>("SELECT count(*) AS n FROM request_logs").get()!.n).toBe(5);
    db.close();
  });

  test("request_log_max_rows = 0 records nothing", async () => {
    const { gw } = await inProcess("[logging]\nrequest_log_max_rows = 0\n");
    gw.requestLog.write(row(1));
    await gw.requestLog.flush();
    expect(await gw.store.requestLogs.list({ limit: 10 })).toHaveLength(0);
    await gw.close();
  });
});

describe("what a row records about the body", () => {
  test("a small body of declared length: the exact byte count; a body that breaks off: a 502 and a row saying so, never a truncated 200", async () => {
    // a raw upstream: a declared length, then (on /broken) fewer bytes and a closed connection
    const server = Bun.listen({
      hostname: "127.0.0.1",
      port: 0,
      socket: {
        data(sock, d) {
          const broken = d.toString().startsWith("GET /broken");
          sock.write(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${broken ? 1000 : 11}\r\n\r\n${broken ? '{"partial":' : '{"ok":true}'}`);
          if (broken) sock.end();
        },
      },
    });
    const gw = await startGateway(openEndpoint("p", "raw", `http://127.0.0.1:${server.port}`));
    try {
      const ok = await fetch(`${gw.url.href}api/p/proxy/raw/fine`);
      expect([ok.status, await ok.text()]).toEqual([200, '{"ok":true}']);
      const broken = await fetch(`${gw.url.href}api/p/proxy/raw/broken`);
      expect(broken.status).toBe(502);
      expect(((await broken.json()) as { error: string }).error).toBe("upstream_unreachable");
      const rows = await gw.gw.requestLog.list({ limit: 10 });
      expect(rows.find((r) => r.path === "/fine")).toMatchObject({ status: 200, bytes: 11, error: null });
      expect(rows.find((r) => r.path === "/broken")).toMatchObject({ status: 502, error: "upstream_unreachable" });
    } finally {
      await gw.shutdown();
      server.stop(true);
    }
  });
});
