/**
 * Recorded GitHub API scenarios from @octokit/fixtures, served by @octokit/fixtures-server (run under
 * Node, as it is published), replayed through hubgate with an unmodified Octokit client. The fixtures
 * match method, path, query, Accept and Authorization exactly, so a replay only passes when hubgate
 * forwards requests the way GitHub expects them. The pool's identity holds the fixtures' token.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { Octokit } from "@octokit/rest";
import type { Subprocess } from "bun";
import { freePort, ROOT, startGateway } from "../helpers/gateway.ts";
import type { Running } from "../../src/root/serve.ts";

const node = Bun.which("node");
const FIXTURE_TOKEN = "0000000000000000000000000000000000000001";


describe.skipIf(!node)("@octokit/fixtures-server scenarios through hubgate", () => {
  let proc: Subprocess;
  let fixtures: string;
  beforeAll(async () => {
    const port = await freePort();
    fixtures = `http://localhost:${port}`;
    proc = Bun.spawn([node!, join(ROOT, "node_modules/@octokit/fixtures-server/bin/server.js")], {
      env: { PATH: process.env.PATH ?? "", PORT: String(port), LOG_LEVEL: "error" },
      stdout: "ignore",
      stderr: "inherit",
    });
    for (let i = 0; i < 100; i++) {
      const ok = await fetch(`${fixtures}/fixtures`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"scenario":"get-root"}' }).then(
        () => true,
        () => false,
      );
      if (ok) return;
      await Bun.sleep(100);
    }
    throw new Error("fixtures server did not start");
  });
  afterAll(() => proc?.kill());

  async function scenario(name: string, extra = ""): Promise<{ gw: Running; octokit: Octokit; base: string; upstream: string }> {
    const r = (await (await fetch(`${fixtures}/fixtures`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ scenario: name }) })).json()) as { url: string };
    const gw = await startGateway(
      `[github]\napi_url = "${r.url}"\nallow_private = true\nclients = "open"\n${extra}\n[[github.identities]]\nid = "fixture"\ntoken = "env:FIXTURE_TOKEN"\n`,
      { FIXTURE_TOKEN },
    );
    const base = gw.url.href.replace(/\/$/, "");
    return { gw, base, upstream: r.url, octokit: new Octokit({ baseUrl: base, request: { fetch } }) };
  }

  test("get-repository", async () => {
    const { gw, octokit } = await scenario("get-repository");
    try {
      const { data } = await octokit.rest.repos.get({ owner: "octokit-fixture-org", repo: "hello-world" });
      expect(data.full_name).toBe("octokit-fixture-org/hello-world");
    } finally {
      await gw.shutdown();
    }
  });

  test("paginate-issues: five pages, every Link followed back through the gateway", async () => {
    const { gw, octokit, base, upstream } = await scenario("paginate-issues");
    try {
      const urls: string[] = [];
      const issues = [];
      for await (const page of octokit.paginate.iterator(octokit.rest.issues.listForRepo, { owner: "octokit-fixture-org", repo: "paginate-issues", per_page: 3 })) {
        urls.push(page.url);
        issues.push(...page.data);
      }
      expect(urls).toHaveLength(5);
      expect(urls.slice(1).every((u) => u.startsWith(base) && !u.includes(upstream))).toBe(true);
      expect(issues).toHaveLength(13);
    } finally {
      await gw.shutdown();
    }
  });

  test("under allowed_owners: GitHub's own pagination links by repository id are followed, an id never linked is refused", async () => {
    const { gw, octokit, base } = await scenario("paginate-issues", 'allowed_owners = ["octokit-fixture-org"]');
    try {
      const urls: string[] = [];
      let count = 0;
      for await (const page of octokit.paginate.iterator(octokit.rest.issues.listForRepo, { owner: "octokit-fixture-org", repo: "paginate-issues", per_page: 3 })) {
        urls.push(page.url);
        count += page.data.length;
      }
      expect(count).toBe(13);
      expect(urls.slice(1).every((u) => u.startsWith(`${base}/repositories/1000/issues?`))).toBe(true);
      const other = await fetch(`${base}/repositories/1001/issues?per_page=3&page=2`);
      expect(other.status).toBe(403);
    } finally {
      await gw.shutdown();
    }
  });

  test("under allowed_owners: get-repository and search-issues scoped with repo:", async () => {
    const allow = 'allowed_owners = ["octokit-fixture-org"]';
    const get = await scenario("get-repository", allow);
    try {
      expect((await get.octokit.rest.repos.get({ owner: "octokit-fixture-org", repo: "hello-world" })).data.full_name).toBe("octokit-fixture-org/hello-world");
    } finally {
      await get.gw.shutdown();
    }
    const search = await scenario("search-issues", allow);
    try {
      const { data } = await search.octokit.rest.search.issuesAndPullRequests({ q: "sesame repo:octokit-fixture-org/search-issues" });
      expect(data.total_count).toBeGreaterThan(0);
    } finally {
      await search.gw.shutdown();
    }
  });

  test("search-issues: a search read through the pool", async () => {
    const { gw, octokit } = await scenario("search-issues");
    try {
      const { data } = await octokit.rest.search.issuesAndPullRequests({ q: "sesame repo:octokit-fixture-org/search-issues" });
      expect(data.total_count).toBeGreaterThan(0);
    } finally {
      await gw.shutdown();
    }
  });

  test("create-file: a write passes through with the caller's token and body intact", async () => {
    const { gw, base } = await scenario("create-file");
    try {
      const octokit = new Octokit({ baseUrl: base, auth: FIXTURE_TOKEN });
      const { status, data } = await octokit.rest.repos.createOrUpdateFileContents({
        owner: "octokit-fixture-org",
        repo: "create-file",
        path: "test.txt",
        message: "create test.txt",
        content: Buffer.from("Test content").toString("base64"),
      });
      expect(status).toBe(201);
      expect(data.content?.path).toBe("test.txt");
    } finally {
      await gw.shutdown();
    }
  });
});
