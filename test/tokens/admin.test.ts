/** API tokens over the admin API and the CLI: created once in plaintext, stored hashed, bound to a project, revocable. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startGateway, runCli } from "../helpers/gateway.ts";
import { upstream } from "../helpers/upstream.ts";
import type { Running } from "../../src/root/serve.ts";
import { hashApiToken } from "../../src/crypto/apitoken.ts";

const ADMIN = "admin-token-for-tests-0123456789";

describe("API tokens", () => {
  let gw: Running & { configPath: string; dir: string; lines: string[] };
  let base: string;
  const up = upstream(() => Response.json({ ok: true }));
  beforeAll(async () => {
    gw = await startGateway(
      `[admin]\ntoken = "env:ADMIN"\n[[projects]]\nid = "p"\n[[projects.endpoints]]\nslug = "e"\nupstream_url = "${up.url}"\nallow_private = true\n[[projects]]\nid = "q"\n`,
      { ADMIN },
    );
    base = gw.url.href.replace(/\/$/, "");
  });
  afterAll(async () => {
    await gw.shutdown();
    up.stop();
  });
  const admin = (path: string, init: RequestInit = {}, token = ADMIN) =>
    fetch(`${base}${path}`, { ...init, headers: { authorization: `Bearer ${token}`, "content-type": "application/json", ...(init.headers as Record<string, string>) } });

  test("admin API: create returns the plaintext once; only the hash is stored; list never shows it", async () => {
    const r = await admin("/admin/tokens", { method: "POST", body: JSON.stringify({ project: "p", name: "ci", scopes: ["proxy"], env: "test", expires_in: "30d" }) });
    expect(r.status).toBe(201);
    const created = (await r.json()) as { token: string; id: string; hint: string; expires_at: string };
    expect(created.token).toMatch(/^hg_test_[0-9A-Za-z]{36}$/);
    expect(Date.parse(created.expires_at) - Date.now()).toBeGreaterThan(29 * 86_400_000);
    const stored = (await gw.gw.store.driver.get<{ token_hash: string }>("SELECT token_hash FROM api_tokens WHERE id = ?", created.id))!;
    expect(stored.token_hash).toBe(hashApiToken(created.token));
    const list = await (await admin("/admin/tokens?project=p")).text();
    expect(list).toContain(created.id);
    expect(list).not.toContain(created.token);
    expect((await fetch(`${base}/api/p/proxy/e/x`, { headers: { authorization: `Bearer ${created.token}` } })).status).toBe(200);
    const del = await admin(`/admin/tokens/${created.id}`, { method: "DELETE" });
    expect(((await del.json()) as { revoked_at: string | null }).revoked_at).not.toBeNull();
    expect((await fetch(`${base}/api/p/proxy/e/x`, { headers: { authorization: `Bearer ${created.token}` } })).status).toBe(401);
    const kinds = (await gw.gw.store.audit.list({ limit: 100 })).map((e) => e.kind);
    expect(kinds).toContain("token.created");
    expect(kinds).toContain("token.revoked");
  });

  test("bad input is a clear 4xx: unknown scope, unknown project, no admin token", async () => {
    const scope = await admin("/admin/tokens", { method: "POST", body: JSON.stringify({ project: "p", name: "x", scopes: ["root"] }) });
    expect(scope.status).toBe(400);
    const project = await admin("/admin/tokens", { method: "POST", body: JSON.stringify({ project: "nope", name: "x", scopes: ["proxy"] }) });
    expect(project.status).toBe(404);
    expect(((await project.json()) as { error: string }).error).toBe("project_not_found");
    expect((await admin("/admin/tokens", {}, "wrong")).status).toBe(401);
    expect((await gw.gw.store.audit.list({ kind: "admin.login_failed" })).at(-1)).toMatchObject({ subject: "/admin/tokens", actor: "127.0.0.1" });
  });

  test("a token with scope admin manages its own project's tokens only", async () => {
    const r = await admin("/admin/tokens", { method: "POST", body: JSON.stringify({ project: "p", name: "p-admin", scopes: ["admin"] }) });
    const pAdmin = ((await r.json()) as { token: string }).token;
    const own = await admin("/admin/tokens", { method: "POST", body: JSON.stringify({ project: "p", name: "by-p-admin", scopes: ["proxy"] }) }, pAdmin);
    expect(own.status).toBe(201);
    const other = await admin("/admin/tokens", { method: "POST", body: JSON.stringify({ project: "q", name: "nope", scopes: ["proxy"] }) }, pAdmin);
    expect(other.status).toBe(403);
    const listed = (await (await admin("/admin/tokens?project=q", {}, pAdmin)).json()) as { tokens: { project: string }[] };
    expect(listed.tokens.every((t) => t.project === "p")).toBe(true);
    expect((await admin("/admin/reload", { method: "POST" }, pAdmin)).status).toBe(403);
  });

  test("CLI: token create prints the token once; list and revoke work on the same database", async () => {
    const env = { ADMIN };
    const created = await runCli(["token", "create", "--config", gw.configPath, "--project", "p", "--name", "cli", "--scope", "proxy", "--scope", "github:read", "--expires", "1d"], { env });
    expect(created.code).toBe(0);
    const token = created.stdout.trim();
    expect(token).toMatch(/^hg_live_/);
    expect((await fetch(`${base}/api/p/proxy/e/x`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    const list = await runCli(["token", "list", "--config", gw.configPath, "--project", "p"], { env });
    expect(list.stdout).toContain("cli");
    expect(list.stdout).not.toContain(token);
    const id = list.stdout.split("\n").find((l) => / cli /.test(l))!.split(" ")[0]!;
    expect((await runCli(["token", "revoke", id, "--config", gw.configPath], { env })).code).toBe(0);
    expect((await fetch(`${base}/api/p/proxy/e/x`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(401);
    const bad = await runCli(["token", "create", "--config", gw.configPath, "--project", "p", "--name", "x", "--scope", "everything"], { env });
    expect(bad.code).toBe(2); // a usage error, refused before the store is opened
    expect(bad.stderr).toContain('--scope: expected one of proxy, github:read, github:write, admin, got "everything"');
  });

  test("admin log API and its SSE stream", async () => {
    const a = await admin("/admin/tokens", { method: "POST", body: JSON.stringify({ project: "p", name: "logs", scopes: ["proxy"] }) });
    const t = ((await a.json()) as { token: string }).token;
    const stream = await admin("/admin/logs/stream");
    expect(stream.headers.get("content-type")).toBe("text/event-stream");
    const reader = stream.body!.getReader();
    await fetch(`${base}/api/p/proxy/e/streamed`, { headers: { authorization: `Bearer ${t}` } });
    let text = "";
    const deadline = Date.now() + 5000;
    while (!text.includes("/streamed") && Date.now() < deadline) text += new TextDecoder().decode((await reader.read()).value);
    await reader.cancel();
    expect(text).toContain("event: log");
    expect(text).toContain('"path":"/streamed"');
    const page = (await (await admin("/admin/logs?limit=5")).json()) as { logs: { path: string }[] };
    expect(page.logs.some((l) => l.path === "/streamed")).toBe(true);
  });
});
