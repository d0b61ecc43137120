/**
 * The real GitHub CLI against hubgate through scripts/ghp: over a unix socket (github.com layout) and
 * over TLS in GHES mode. Skipped only where `gh` is not installed (.ci/run installs it when it can).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { fakeGithub, type FakeGithub } from "../helpers/github-fake.ts";
import { ROOT, startGateway, tempDir } from "../helpers/gateway.ts";
import type { Running } from "../../src/root/serve.ts";

const gh = Bun.which("gh");
const openssl = Bun.which("openssl");
const GHP = join(ROOT, "scripts", "ghp");

async function run(args: string[], env: Record<string, string>) {
  const p = Bun.spawn(["sh", GHP, ...args], { env: { PATH: process.env.PATH ?? "", HOME: tempDir("hg-gh-home-"), GH_NO_UPDATE_NOTIFIER: "1", GH_PROMPT_DISABLED: "1", ...env }, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { out, err, code };
}

const identities = `
[[github.identities]]
id = "a"
token = "env:TA"
`;

describe.skipIf(!gh)("gh through ghp", () => {
  let fake: FakeGithub;
  beforeAll(() => {
    fake = fakeGithub({ tokA: { login: "alice", id: 1 }, mine: { login: "dev", id: 9 } }, { issues: 45 });
  });
  afterAll(() => fake.stop());

  test("over a unix socket: gh api, --paginate stays on the socket, writes carry the caller's token", async () => {
    const sock = join(tempDir("hg-sock-"), "hubgate.sock");
    const gw: Running = await startGateway(
      `[server]\nunix_socket = "${sock}"\npublic_url = "https://api.github.com"\n[github]\napi_url = "${fake.url}"\nallow_private = true\nclients = "open"\n${identities}`,
      { TA: "tokA" },
    );
    try {
      const repo = await run(["api", "/repos/o/r"], { HUBGATE_URL: `unix:${sock}` });
      expect(repo.err).toBe("");
      expect(JSON.parse(repo.out)).toMatchObject({ full_name: "o/r", viewer: "alice" });
      const pages = await run(["api", "--paginate", "/repos/o/r/issues?per_page=20", "--jq", ".[].number"], { HUBGATE_URL: `unix:${sock}` });
      expect(pages.out.trim().split("\n").map(Number)).toEqual(Array.from({ length: 45 }, (_, i) => i + 1));
      const write = await run(["api", "-X", "POST", "/repos/o/r/issues", "-f", "title=via gh"], { HUBGATE_URL: `unix:${sock}`, GH_TOKEN: "mine" });
      expect(JSON.parse(write.out)).toMatchObject({ user: { login: "dev" } });
      expect(fake.log.at(-1)!.token).toBe("mine");
    } finally {
      await gw.shutdown();
    }
  }, 30_000);

  test("under an owners allowlist: gh api, --paginate over id links, graphql with variables, gh search; other owners refused", async () => {
    const scoped = fakeGithub({ tokA: { login: "alice", id: 1 } }, { issues: 45, idLinks: true });
    const sock = join(tempDir("hg-sock-"), "hubgate.sock");
    const gw: Running = await startGateway(
      `[server]\nunix_socket = "${sock}"\npublic_url = "https://api.github.com"\n[github]\napi_url = "${scoped.url}"\nallow_private = true\nclients = "open"\nallowed_owners = ["acme"]\n${identities}`,
      { TA: "tokA" },
    );
    const env = { HUBGATE_URL: `unix:${sock}` };
    try {
      expect(JSON.parse((await run(["api", "/repos/acme/r"], env)).out)).toMatchObject({ full_name: "acme/r" });
      const pages = await run(["api", "--paginate", "/repos/acme/r/issues?per_page=20", "--jq", ".[].number"], env);
      expect(pages.err).toBe("");
      expect(pages.out.trim().split("\n").map(Number)).toEqual(Array.from({ length: 45 }, (_, i) => i + 1));
      const gql = await run(["api", "graphql", "-F", "owner=acme", "-f", 'query=query($owner: String!) { repository(owner: $owner, name: "r") { id } }'], env);
      expect(gql.code).toBe(0);
      const search = await run(["search", "issues", "--repo", "acme/r", "bug"], env);
      expect(search.code).toBe(0);
      expect(scoped.log.filter((l) => l.path === "/search/issues")).toHaveLength(1);
      const before = scoped.log.length;
      const evil = await run(["api", "/repos/evil/r"], env);
      expect(evil.code).not.toBe(0);
      expect(evil.err).toContain("HTTP 403");
      const viewer = await run(["api", "graphql", "-f", "query={ viewer { login } }"], env);
      expect(viewer.code).not.toBe(0);
      expect(scoped.log.length).toBe(before);
    } finally {
      await gw.shutdown();
      scoped.stop();
    }
  }, 30_000);

  test.skipIf(!openssl)("over TLS in GHES mode: gh uses /api/v3 and /api/graphql", async () => {
    const dir = tempDir("hg-tls-");
    const cert = join(dir, "cert.pem");
    const key = join(dir, "key.pem");
    const mk = Bun.spawnSync([openssl!, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"], { stderr: "pipe" });
    expect(mk.exitCode).toBe(0);
    const gw: Running = await startGateway(
      `[server]\nport = 0\ntls_cert = "${cert}"\ntls_key = "file:${key}"\n[github]\napi_url = "${fake.url}"\nallow_private = true\nclients = "open"\n${identities}`,
      { TA: "tokA" },
    );
    try {
      const port = gw.server.port;
      const env = { HUBGATE_URL: `https://127.0.0.1:${port}`, SSL_CERT_FILE: cert };
      const repo = await run(["api", "/repos/o/ghes"], env);
      expect(repo.err).toBe("");
      expect(JSON.parse(repo.out)).toMatchObject({ full_name: "o/ghes" });
      const gql = await run(["api", "graphql", "-f", "query={ viewer { login } }"], env);
      expect(JSON.parse(gql.out)).toMatchObject({ data: { viewer: { login: "alice" } } });
    } finally {
      await gw.shutdown();
    }
  }, 30_000);
});
