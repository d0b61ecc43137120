/**
 * The official MCP TypeScript SDK client, with its OAuth support, through hubgate to a real upstream
 * MCP server (server-everything) whose own OAuth server is oidc-provider: discovery → registration →
 * gateway login → consent → upstream login → token → tools/list → tools/call (streamed) → refresh →
 * session DELETE → revoke.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { UnauthorizedError } from "@modelcontextprotocol/sdk/client/auth.js";
import { harness, signIn, TestProvider, toLoopback, type Harness } from "./harness.ts";

const REDIRECT = "http://127.0.0.1:49999/callback";

describe("MCP SDK client through the gateway", () => {
  let h: Harness;
  let provider: TestProvider;
  let client: Client;
  let transport: StreamableHTTPClientTransport;
  beforeAll(async () => {
    h = await harness();
    provider = new TestProvider(REDIRECT);
  });
  afterAll(async () => {
    await client?.close().catch(() => undefined);
    await h.stop();
  });

  const newTransport = () => new StreamableHTTPClientTransport(new URL(`${h.base}/mcp`), { authProvider: provider });

  test("unauthenticated: discovery, registration, then the person signs in at the gateway and upstream", async () => {
    client = new Client({ name: "test", version: "1.0.0" });
    transport = newTransport();
    const err = await client.connect(transport).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnauthorizedError);
    expect(provider.info?.client_id).toStartWith("mcp_");
    const auth = provider.lastAuthUrl!;
    expect(auth.pathname).toBe("/authorize");
    expect(auth.searchParams.get("code_challenge_method")).toBe("S256");
    expect(auth.searchParams.get("resource")).toBe(`${h.gw.gw.routes.current().publicUrl.origin}/mcp`);
    const back = await signIn(auth.href, "alice", REDIRECT);
    expect(back.searchParams.get("iss")).toBe(h.gw.gw.routes.current().publicUrl.origin);
    expect(back.searchParams.get("state")).toBe(auth.searchParams.get("state"));
    await transport.finishAuth(back.searchParams.get("code")!);
    expect(provider.saved?.access_token).toStartWith("hgm_at_");
    expect(provider.saved?.refresh_token).toStartWith("hgm_rt_");
  });

  test("connected: tools/list is filtered, tools/call works, denied tools are refused", async () => {
    client = new Client({ name: "test", version: "1.0.0" });
    transport = newTransport();
    await client.connect(transport);
    expect(transport.sessionId).toBeString();
    const tools = (await client.listTools()).tools.map((t) => t.name);
    expect(tools).toContain("echo");
    expect(tools).not.toContain("get-env");
    const echo = await client.callTool({ name: "echo", arguments: { message: "through hubgate" } });
    expect(JSON.stringify(echo.content)).toContain("through hubgate");
    const denied = await client.callTool({ name: "get-env", arguments: {} }).catch((e: Error) => e);
    expect(String(denied)).toContain("not available through this gateway");
    // the upstream saw alice's upstream token, never a gateway token
    const calls = h.up.seen.filter((s) => s.method === "POST");
    expect(calls.every((s) => s.account === "alice")).toBe(true);
    expect(calls.every((s) => !s.token?.startsWith("hgm_"))).toBe(true);
  });

  test("a streamed tool call: progress notifications arrive over SSE before the result", async () => {
    const progress: number[] = [];
    const r = await client.callTool({ name: "trigger-long-running-operation", arguments: { duration: 1, steps: 3 } }, undefined, {
      onprogress: (p) => progress.push(p.progress),
    });
    expect(progress.length).toBeGreaterThanOrEqual(2);
    expect(JSON.stringify(r.content)).toContain("completed");
  });

  test("refresh: the SDK's refresh token rotates; the new access token works", async () => {
    const before = provider.saved!;
    const res = await fetch(`${h.base}/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: before.refresh_token!, client_id: provider.info!.client_id }),
    });
    expect(res.status).toBe(200);
    const fresh = (await res.json()) as { access_token: string; refresh_token: string };
    expect(fresh.refresh_token).not.toBe(before.refresh_token);
    provider.saved = { ...before, ...fresh, token_type: "Bearer" };
    expect((await client.listTools()).tools.length).toBeGreaterThan(3);
  });

  test("session DELETE ends the upstream session", async () => {
    const id = transport.sessionId!;
    await transport.terminateSession();
    expect(h.up.closed).toContain(id);
    await client.close();
  });

  test("revoke: the token stops working; the client must sign in again", async () => {
    const res = await fetch(`${h.base}/revoke`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ token: provider.saved!.refresh_token!, client_id: provider.info!.client_id }),
    });
    expect(res.status).toBe(200);
    const r = await fetch(`${h.base}/mcp`, {
      method: "POST",
      headers: { authorization: `Bearer ${provider.saved!.access_token}`, "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
    });
    expect(r.status).toBe(401);
    expect(r.headers.get("www-authenticate")).toContain('error="invalid_token"');
    expect(r.headers.get("www-authenticate")).toContain("resource_metadata=");
    expect(toLoopback(h.gw.gw.routes.current().publicUrl.href)).toBe(`${h.base}/`);
  });
});
