/**
 * An upstream with no oauth_connection: hubgate discovers its authorization server from the upstream's
 * RFC 9728 metadata, registers itself there (RFC 7591), and runs the per-user upstream login with it.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { harness, signIn, TestProvider, type Harness } from "./harness.ts";
import { protectedResourceMetadataUrl } from "../../src/mcp/discovery.ts";

const REDIRECT = "http://127.0.0.1:49995/cb";
let h: Harness;
beforeAll(async () => {
  h = await harness("", { discover: true });
});
afterAll(() => h.stop());

test("RFC 9728 path insertion", () => {
  expect(protectedResourceMetadataUrl(new URL("https://api.githubcopilot.com/mcp/"))).toBe("https://api.githubcopilot.com/.well-known/oauth-protected-resource/mcp");
  expect(protectedResourceMetadataUrl(new URL("https://x.example"))).toBe("https://x.example/.well-known/oauth-protected-resource");
});

test("discovery + dynamic registration upstream, then the SDK client works end to end; the registration is reused", async () => {
  const provider = new TestProvider(REDIRECT);
  let client = new Client({ name: "t", version: "1" });
  let transport = new StreamableHTTPClientTransport(new URL(`${h.base}/mcp`), { authProvider: provider });
  await client.connect(transport).catch(() => undefined);
  const back = await signIn(provider.lastAuthUrl!.href, "alice", REDIRECT);
  expect(back.searchParams.get("code")).toBeString();
  await transport.finishAuth(back.searchParams.get("code")!);
  client = new Client({ name: "t", version: "1" });
  transport = new StreamableHTTPClientTransport(new URL(`${h.base}/mcp`), { authProvider: provider });
  await client.connect(transport);
  expect((await client.listTools()).tools.map((t) => t.name)).toContain("echo");
  expect(h.up.seen.filter((s) => s.method === "POST").at(-1)!.account).toBe("alice");
  await client.close();
  const regs = (await h.gw.gw.store.audit.list({ kind: "mcp.upstream_registered" }));
  expect(regs).toHaveLength(1);
  // a second user signs in: same registration, their own grant
  const p2 = new TestProvider(REDIRECT);
  const t2 = new StreamableHTTPClientTransport(new URL(`${h.base}/mcp`), { authProvider: p2 });
  await new Client({ name: "t", version: "1" }).connect(t2).catch(() => undefined);
  const back2 = await signIn(p2.lastAuthUrl!.href, "bob", REDIRECT);
  expect(back2.searchParams.get("code")).toBeString();
  expect((await h.gw.gw.store.audit.list({ kind: "mcp.upstream_registered" }))).toHaveLength(1);
  expect(await h.gw.gw.store.oauth.info("mcp:bob:everything")).not.toBeNull();
});
