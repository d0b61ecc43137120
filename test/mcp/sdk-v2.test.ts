/**
 * The 2026-07-28 generation end to end with the official TypeScript SDK's v2 packages at both ends:
 * a @modelcontextprotocol/client client signs in through hubgate's OAuth flow and negotiates
 * 2026-07-28 with an upstream built on @modelcontextprotocol/server (createMcpHandler), through the
 * gateway. Tool listing (filtered), a tool whose name is not printable ASCII, a resource URI that is
 * not either (both sent as `=?base64?…?=` in Mcp-Name), an Mcp-Param-* header, progress over SSE,
 * a denied tool — and a 1.x client against the same upstream, served by its 2025 stateless fallback.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Client, StreamableHTTPClientTransport, UnauthorizedError, type OAuthDiscoveryState } from "@modelcontextprotocol/client";
import { Client as ClientV1 } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport as TransportV1 } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { harness, signIn, TestProvider, type Harness } from "./harness.ts";
import { upstreamMcpV2, V2_RESOURCE_TEXT, V2_RESOURCE_URI, V2_TOOL_UNICODE } from "../helpers/mcp-upstream-v2.ts";

const REDIRECT = "http://127.0.0.1:49997/callback";

/** The harness's provider, plus the discovery state v2 keeps so it can check, on the callback leg, that the code came from the authorization server it started with (SEP-2352). */
class ProviderV2 extends TestProvider {
  discovery?: OAuthDiscoveryState;
  saveDiscoveryState(state: OAuthDiscoveryState) {
    this.discovery = state;
  }
  discoveryState() {
    return this.discovery;
  }
}

const b64 = (s: string) => `=?base64?${Buffer.from(s, "utf8").toString("base64")}?=`;

describe("MCP SDK v2 client and server (2026-07-28) through the gateway", () => {
  let h: Harness<ReturnType<typeof upstreamMcpV2>>;
  let provider: ProviderV2;
  let client: Client;
  beforeAll(async () => {
    h = await harness("", { upstream: upstreamMcpV2 });
    provider = new ProviderV2(REDIRECT);
  });
  afterAll(async () => {
    await client?.close().catch(() => undefined);
    await h.stop();
  });

  const newClient = () => new Client({ name: "test-v2", version: "1.0.0" }, { versionNegotiation: { mode: "auto" } });
  const newTransport = () => new StreamableHTTPClientTransport(new URL(`${h.base}/mcp`), { authProvider: provider });
  const posts = () => h.up.seen.filter((s) => s.method === "POST");

  test("unauthenticated: the v2 client discovers the gateway, registers, and the person signs in", async () => {
    client = newClient();
    const transport = newTransport();
    const err = await client.connect(transport).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnauthorizedError);
    const auth = provider.lastAuthUrl!;
    expect(auth.pathname).toBe("/authorize");
    expect(auth.searchParams.get("resource")).toBe(`${h.gw.gw.routes.current().publicUrl.origin}/mcp`);
    const back = await signIn(auth.href, "alice", REDIRECT);
    await transport.finishAuth(back.searchParams); // checks iss (RFC 9207) too
    expect(provider.saved?.access_token).toStartWith("hgm_at_");
    expect(provider.discovery?.authorizationServerMetadata?.issuer).toBe(h.gw.gw.routes.current().publicUrl.origin);
  });

  test("connected: 2026-07-28 negotiated through the gateway, no session; tools/list is filtered", async () => {
    client = newClient();
    await client.connect(newTransport());
    expect(client.getNegotiatedProtocolVersion()).toBe("2026-07-28");
    expect(client.getProtocolEra()).toBe("modern");
    const tools = (await client.listTools()).tools.map((t) => t.name);
    expect(tools).toEqual(expect.arrayContaining(["echo", V2_TOOL_UNICODE, "locate", "count"]));
    expect(tools).not.toContain("get-env");
    const list = posts().at(-1)!;
    expect(list).toMatchObject({ mcpMethod: "tools/list", version: "2026-07-28", session: null, account: "alice" });
    expect(list.token?.startsWith("hgm_")).toBe(false);
  });

  test(`a tool named "${V2_TOOL_UNICODE}": Mcp-Name travels base64-encoded and reaches the upstream unchanged`, async () => {
    const r = await client.callTool({ name: V2_TOOL_UNICODE, arguments: { who: "Zoë" } });
    expect(JSON.stringify(r.content)).toContain("grüß dich, Zoë");
    expect(posts().at(-1)).toMatchObject({ mcpMethod: "tools/call", mcpName: b64(V2_TOOL_UNICODE) });
    const log = (await h.gw.gw.requestLog.list({ project: "mcp", limit: 1 })).at(-1);
    expect(log).toMatchObject({ method: "POST", path: `tools/call ${V2_TOOL_UNICODE}`, status: 200, provider: "2026-07-28" });
  });

  test("resources/read of a non-ASCII URI", async () => {
    const r = await client.readResource({ uri: V2_RESOURCE_URI });
    expect(r.contents[0]).toMatchObject({ text: V2_RESOURCE_TEXT });
    expect(posts().at(-1)).toMatchObject({ mcpMethod: "resources/read", mcpName: b64(V2_RESOURCE_URI) });
  });

  test("an x-mcp-header parameter: the Mcp-Param-Region header passes the gateway and agrees with the body upstream", async () => {
    const r = await client.callTool({ name: "locate", arguments: { region: "Zürich" } });
    expect(JSON.stringify(r.content)).toContain("region: Zürich");
    expect(posts().at(-1)!.params).toEqual({ "mcp-param-region": b64("Zürich") });
  });

  test("progress notifications arrive over the request's SSE stream before the result", async () => {
    const progress: number[] = [];
    const r = await client.callTool({ name: "count", arguments: { steps: 3 } }, { onprogress: (p) => void progress.push(p.progress) });
    expect(progress).toEqual([1, 2, 3]);
    expect(JSON.stringify(r.content)).toContain("counted to 3");
  });

  test("a denied tool is refused by the gateway, whatever the headers say", async () => {
    const before = posts().length;
    const denied = await client.callTool({ name: "get-env", arguments: {} }).catch((e: unknown) => e);
    expect(String(denied)).toContain("not available through this gateway");
    expect(posts().length).toBe(before); // never reached the upstream
    expect(h.up.errors).toEqual([]);
  });

  test("a 1.x client against the same upstream: the 2025 shape, served by the SDK's stateless fallback", async () => {
    const v1 = new ClientV1({ name: "test-v1", version: "1.0.0" });
    await v1.connect(new TransportV1(new URL(`${h.base}/mcp`), { authProvider: provider }));
    try {
      const tools = (await v1.listTools()).tools.map((t) => t.name);
      expect(tools).toContain(V2_TOOL_UNICODE);
      expect(tools).not.toContain("get-env");
      const r = await v1.callTool({ name: "echo", arguments: { message: "from 1.x" } });
      expect(JSON.stringify(r.content)).toContain("echo: from 1.x");
      const last = posts().at(-1)!;
      expect(last.version).not.toBe("2026-07-28");
      expect(last).toMatchObject({ mcpMethod: null, mcpName: null, account: "alice" });
    } finally {
      await v1.close();
    }
  });
});
