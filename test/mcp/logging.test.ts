/** MCP requests go through the same request log as endpoint calls, with the same switch and retention. */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { harness, signIn, type Harness } from "./harness.ts";

const REDIRECT = "http://127.0.0.1:49993/cb";
let h: Harness;
beforeAll(async () => {
  h = await harness(`[logging]\nrequest_log_max_rows = 0\n`);
});
afterAll(() => h.stop());

test("with request_log_max_rows = 0 an MCP call writes no request-log row", async () => {
  const reg = (await (await fetch(`${h.base}/register`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ redirect_uris: [REDIRECT] }) })).json()) as { client_id: string };
  const verifier = randomBytes(32).toString("base64url");
  const u = new URL(`${h.base}/authorize`);
  for (const [k, v] of Object.entries({ response_type: "code", client_id: reg.client_id, redirect_uri: REDIRECT, code_challenge: createHash("sha256").update(verifier).digest("base64url"), code_challenge_method: "S256", state: "s" }))
    u.searchParams.set(k, v);
  const back = await signIn(u.href, "alice", REDIRECT);
  const tok = (await (
    await fetch(`${h.base}/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "authorization_code", code: back.searchParams.get("code")!, redirect_uri: REDIRECT, code_verifier: verifier, client_id: reg.client_id }),
    })
  ).json()) as { access_token: string };
  const init = { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } } };
  const r = await fetch(`${h.base}/mcp`, { method: "POST", headers: { authorization: `Bearer ${tok.access_token}`, "content-type": "application/json", accept: "application/json, text/event-stream" }, body: JSON.stringify(init) });
  expect(r.status).toBe(200);
  expect(h.gw.gw.requestLog.list({ project: "mcp" })).toEqual([]);
});
