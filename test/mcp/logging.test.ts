/** MCP requests go through the same request log as endpoint calls, with the same switch and retention. */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { clientTokens, harness, type Harness } from "./harness.ts";

const REDIRECT = "http://127.0.0.1:49993/cb";
let h: Harness;
beforeAll(async () => {
  h = await harness(`[logging]\nrequest_log_max_rows = 0\n`);
});
afterAll(() => h.stop());

test("with request_log_max_rows = 0 an MCP call writes no request-log row", async () => {
  const tok = await clientTokens(h.base, REDIRECT, "alice");
  const init = { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } } };
  const r = await fetch(`${h.base}/mcp`, { method: "POST", headers: { authorization: `Bearer ${tok.access_token}`, "content-type": "application/json", accept: "application/json, text/event-stream" }, body: JSON.stringify(init) });
  expect(r.status).toBe(200);
  expect((await h.gw.gw.requestLog.list({ project: "mcp" }))).toEqual([]);
});
