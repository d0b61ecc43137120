/** Real clients, base URL changed only: @octokit/rest (paginate, throttling) and @octokit/graphql. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Octokit } from "@octokit/rest";
import { throttling } from "@octokit/plugin-throttling";
import { graphql } from "@octokit/graphql";
import { fakeGithub, type FakeGithub } from "../helpers/github-fake.ts";
import { startGateway } from "../helpers/gateway.ts";
import type { Running } from "../../src/root/serve.ts";

const USERS = { tokA: { login: "alice", id: 1 }, tokB: { login: "bob", id: 2 }, mine: { login: "dev", id: 9 } };

describe("Octokit clients through hubgate", () => {
  let fake: FakeGithub;
  let gw: Running;
  let base: string;
  beforeAll(async () => {
    fake = fakeGithub(USERS, { issues: 75, limits: { core: 40 } });
    gw = await startGateway(
      `
[github]
api_url = "${fake.url}"
allow_private = true
clients = "open"
[[github.identities]]
id = "a"
token = "env:TA"
[[github.identities]]
id = "b"
token = "env:TB"
`,
      { TA: "tokA", TB: "tokB" },
    );
    base = gw.url.href.replace(/\/$/, "");
  });
  afterAll(async () => {
    await gw.shutdown();
    fake.stop();
  });

  test("@octokit/rest: get, paginate across Link pages on the gateway, create with own token", async () => {
    const octokit = new Octokit({ baseUrl: base, auth: "mine" });
    const repo = await octokit.rest.repos.get({ owner: "o", repo: "r" });
    expect(repo.data.full_name).toBe("o/r");
    const issues = await octokit.paginate(octokit.rest.issues.listForRepo, { owner: "o", repo: "r", per_page: 20 });
    expect(issues).toHaveLength(75);
    expect(issues.at(-1)!.number).toBe(75);
    // every page went through the pool, none with the client's token
    const pages = fake.log.filter((l) => l.path === "/repos/o/r/issues" && l.method === "GET");
    expect(pages.length).toBe(4);
    expect(pages.every((p) => p.token !== "mine")).toBe(true);
    const created = await octokit.rest.issues.create({ owner: "o", repo: "r", title: "from octokit" });
    expect(created.status).toBe(201);
    expect(fake.log.at(-1)!.token).toBe("mine");
  });

  test("@octokit/graphql: queries pooled, mutations with the caller's token", async () => {
    const gql = graphql.defaults({ baseUrl: base, headers: { authorization: "token mine" } });
    const q = await gql<{ viewer: { login: string } }>("query { viewer { login } }");
    expect(["alice", "bob"]).toContain(q.viewer.login);
    const m = await gql<{ addComment: { by: string } }>("mutation { addComment(input: {}) { clientMutationId } }");
    expect(m.addComment.by).toBe("dev");
  });

  test("@octokit/plugin-throttling reads the pool's 429 as a primary limit and waits until the reset", async () => {
    fake.spent.set("alice:core", 40);
    fake.spent.set("bob:core", 40);
    const Throttled = Octokit.plugin(throttling);
    const seen: number[] = [];
    const octokit = new Throttled({
      baseUrl: base,
      throttle: {
        onRateLimit: (retryAfter: number) => {
          seen.push(retryAfter);
          return false;
        },
        onSecondaryRateLimit: () => {
          throw new Error("not a secondary limit");
        },
      },
    });
    const err = await octokit.rest.repos.get({ owner: "o", repo: "throttled" }).catch((e: { status: number }) => e);
    expect((err as { status: number }).status).toBe(429);
    expect(seen).toHaveLength(1);
    expect(seen[0]!).toBeGreaterThan(3000); // the fake's window resets in about an hour
  });
});

describe("Octokit under an owners allowlist", () => {
  let fake: FakeGithub;
  let gw: Running;
  let octokit: Octokit;
  beforeAll(async () => {
    fake = fakeGithub(USERS, { issues: 75, idLinks: true });
    gw = await startGateway(
      `
[github]
api_url = "${fake.url}"
allow_private = true
clients = "open"
allowed_owners = ["acme"]
[[github.identities]]
id = "a"
token = "env:TA"
`,
      { TA: "tokA" },
    );
    octokit = new Octokit({ baseUrl: gw.url.href.replace(/\/$/, "") });
  });
  afterAll(async () => {
    await gw.shutdown();
    fake.stop();
  });

  test("common reads on an allowed repo work: get, paginate (pages linked by repository id), pulls, contents, refs, scoped search", async () => {
    const repo = { owner: "acme", repo: "x" };
    expect((await octokit.rest.repos.get(repo)).data.full_name).toBe("acme/x");
    const issues = await octokit.paginate(octokit.rest.issues.listForRepo, { ...repo, per_page: 20 });
    expect(issues.map((i) => i.number)).toEqual(Array.from({ length: 75 }, (_, i) => i + 1));
    expect(fake.log.filter((l) => /^\/repositories\/\d+\/issues$/.test(l.path))).toHaveLength(3);
    expect((await octokit.rest.pulls.list(repo)).data[0]!.title).toBe("pull of acme/x");
    expect(await octokit.rest.repos.getContent({ ...repo, path: "" })).toMatchObject({ status: 200, data: [{ path: "README.md" }] });
    expect(await octokit.rest.repos.getContent({ ...repo, path: "docs/a b.md" })).toMatchObject({ data: { path: "docs/a b.md" } });
    expect((await octokit.rest.git.getRef({ ...repo, ref: "heads/feature/x" })).data.ref).toBe("refs/heads/feature/x");
    expect((await octokit.rest.search.issuesAndPullRequests({ q: "is:open repo:acme/x" })).status).toBe(200);
    expect((await octokit.rest.search.code({ q: "addClass repo:acme/x" })).status).toBe(200);
  });

  test("reads elsewhere are RequestErrors with status 403 and code owner_not_allowed, and reach nobody", async () => {
    const before = fake.log.length;
    const refused = [
      octokit.rest.repos.get({ owner: "evil", repo: "x" }),
      octokit.request("GET /repositories/{repository_id}", { repository_id: 1 }),
      octokit.rest.search.repos({ q: "org:evil" }),
      octokit.rest.search.code({ q: "password" }),
      octokit.rest.repos.listForAuthenticatedUser(),
      octokit.rest.gists.get({ gist_id: "abc123" }),
    ];
    for (const p of refused) {
      const err = (await p.catch((e: unknown) => e)) as { status: number; response: { data: { error: string } } };
      expect(err.status).toBe(403);
      expect(err.response.data.error).toBe("owner_not_allowed");
    }
    expect(fake.log.length).toBe(before);
  });

  test("@octokit/graphql: repository(owner:) passes, viewer is refused", async () => {
    const q = graphql.defaults({ baseUrl: gw.url.href.replace(/\/$/, "") });
    expect(await q("query($owner: String!) { repository(owner: $owner, name: \"x\") { id } }", { owner: "acme" })).toBeTruthy();
    const err = (await q("query { viewer { login } }").catch((e: unknown) => e)) as { status: number };
    expect(err.status).toBe(403);
  });
});
