/** Real clients, base URL changed only: @octokit/rest (paginate, throttling) and @octokit/graphql. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Octokit } from "@octokit/rest";
import { throttling } from "@octokit/plugin-throttling";
import { graphql } from "@octokit/graphql";
import { fakeGithub, type FakeGithub } from "../helpers/github-fake.ts";
import { startGateway } from "../helpers/gateway.ts";
import type { Running } from "../../src/server/serve.ts";

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
