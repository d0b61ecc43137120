import { describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { join } from "node:path";
import { inProcess } from "../helpers/gateway.ts";
import type { NewRequestLog } from "../../src/store/index.ts";

const row = (i: number): NewRequestLog => ({ at: Date.now(), project: "p", endpoint: "e", tokenId: null, method: "GET", path: `/r${i}`, status: 200, ms: 1, bytes: 10, provider: null, error: null });

describe("request log batching", () => {
  test("rows are written in one batch after a short delay, or at once past the batch size", async () => {
    const { gw } = await inProcess("");
    for (let i = 0; i < 3; i++) gw.requestLog.write(row(i));
    expect(await gw.store.requestLogs.list({ limit: 10 })).toHaveLength(0); // not one commit per row
    await Bun.sleep(250);
    expect((await gw.store.requestLogs.list({ limit: 10 })).map((l) => l.path)).toEqual(["/r0", "/r1", "/r2"]);
    for (let i = 3; i < 3 + 256; i++) gw.requestLog.write(row(i));
    expect(await gw.store.requestLogs.list({ limit: 1000 })).toHaveLength(259); // the full batch was written without waiting
    gw.requestLog.write(row(259));
    expect((await gw.requestLog.list({ limit: 1000 }))).toHaveLength(260); // readers see rows still waiting for their batch
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
