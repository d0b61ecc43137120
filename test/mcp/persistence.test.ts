/** Clients, grants and tokens live in SQLite: a restarted gateway still honours them. */
import { afterAll, expect, test } from "bun:test";
import { clientTokens, harness, type Harness } from "./harness.ts";
import { serve, type Running } from "../../src/root/serve.ts";
import { memoryLogger } from "../../src/core/log.ts";
import { APP_KEY } from "../helpers/gateway.ts";

const REDIRECT = "http://127.0.0.1:49994/cb";
let h: Harness;
let second: Running | undefined;
afterAll(async () => {
  await second?.shutdown();
  h.up.stop();
  h.as.stop();
});

test("after a restart: the registered client, the access token, the refresh token and the upstream grant still work", async () => {
  h = await harness();
  const tok = await clientTokens(h.base, REDIRECT, "alice");

  await h.gw.shutdown();
  second = await serve({ configPath: h.gw.configPath, env: { HUBGATE_APP_KEY: APP_KEY, IDP_SECRET: "client-secret-for-tests" }, log: memoryLogger().log, signals: false });

  const init = { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } } };
  const r = await fetch(`${h.base}/mcp`, { method: "POST", headers: { authorization: `Bearer ${tok.access_token}`, "content-type": "application/json", accept: "application/json, text/event-stream" }, body: JSON.stringify(init) });
  expect(r.status).toBe(200);
  expect(h.up.seen.at(-1)!.account).toBe("alice");
  const refreshed = await fetch(`${h.base}/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: tok.refresh_token, client_id: tok.clientId }),
  });
  expect(refreshed.status).toBe(200);
});
