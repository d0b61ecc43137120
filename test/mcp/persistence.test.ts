/** Clients, grants and tokens live in SQLite: a restarted gateway still honours them. */
import { afterAll, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { harness, signIn, type Harness } from "./harness.ts";
import { serve, type Running } from "../../src/server/serve.ts";
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
  ).json()) as { access_token: string; refresh_token: string };

  await h.gw.shutdown();
  second = await serve({ configPath: h.gw.configPath, env: { HUBGATE_APP_KEY: APP_KEY, IDP_SECRET: "client-secret-for-tests" }, log: memoryLogger().log, signals: false });

  const init = { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } } };
  const r = await fetch(`${h.base}/mcp`, { method: "POST", headers: { authorization: `Bearer ${tok.access_token}`, "content-type": "application/json", accept: "application/json, text/event-stream" }, body: JSON.stringify(init) });
  expect(r.status).toBe(200);
  expect(h.up.seen.at(-1)!.account).toBe("alice");
  const refreshed = await fetch(`${h.base}/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: tok.refresh_token, client_id: reg.client_id }),
  });
  expect(refreshed.status).toBe(200);
});
