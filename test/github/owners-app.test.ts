/**
 * The closed owners allowlist end to end: a gateway with allowed_owners = ["acme"] in front of the
 * GitHub look-alike. Every road to another owner's data is a 403 owner_not_allowed that never reaches
 * the upstream; allowed reads, writes and id-linked pages pass; without an allowlist nothing changes.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { fakeGithub, type FakeGithub } from "../helpers/github-fake.ts";
import { startGateway } from "../helpers/gateway.ts";
import type { Running } from "../../src/root/serve.ts";

const USERS = { tokA: { login: "alice", id: 1 }, tokB: { login: "bob", id: 2 }, own: { login: "carol", id: 3 } };
const config = (fake: FakeGithub, extra: string) => `
[github]
api_url = "${fake.url}"
allow_private = true
clients = "open"
${extra}
[[github.identities]]
id = "a"
token = "env:TA"
[[github.identities]]
id = "b"
token = "env:TB"
`;
const env = { TA: "tokA", TB: "tokB" };

/** A request line sent as is: fetch would resolve dot segments before they reach the gateway. */
async function rawGet(port: number, target: string): Promise<number> {
  const text = await new Promise<string>((resolve, reject) => {
    let buf = "";
    void Bun.connect({
      hostname: "127.0.0.1",
      port,
      socket: {
        open: (s) => void s.write(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`),
        data: (_s, d) => void (buf += new TextDecoder().decode(d)),
        close: () => resolve(buf),
        error: (_s, e) => reject(e),
      },
    });
  });
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]);
}

const gql = (query: string, variables?: Record<string, unknown>) => JSON.stringify({ query, variables });

const REST_ROADS = [
  "/repos/evil/x",
  "/repositories/1",
  "/repositories/1/issues?page=2",
  "/search/code?q=repo:evil/x",
  "/search/repositories?q=org:evil",
  "/search/issues?q=bug",
  "/search/issues?q=repo:acme/x+OR+is:public",
  "/user/repos",
  "/user",
  "/gists/abc123",
  "//repos/evil/x",
  "/Repos/evil/x",
  "/repos%2fevil/x",
  "/api/v3/repositories/1",
  "/api/v3//repos/evil/x",
];

const GRAPHQL_ROADS = [
  gql('query { node(id: "MDEwOlJlcG9zaXRvcnkx") { id } }'),
  gql('query { nodes(ids: ["MDEwOlJlcG9zaXRvcnkx"]) { id } }'),
  gql('query { search(query: "is:public", type: REPOSITORY, first: 10) { repositoryCount } }'),
  gql("query($q: String!) { search(query: $q, type: ISSUE, first: 10) { issueCount } }", { q: "repo:evil/x" }),
  gql('query { resource(url: "https://github.com/evil/x") { __typename } }'),
  gql("query { viewer { repositories(first: 100) { nodes { nameWithOwner } } } }"),
  gql('query { r: repository(owner: "acme", name: "x") { id } v: viewer { login } }'),
  gql("query { ...Everything } fragment Everything on Query { viewer { login } }"),
  gql('query { repository(owner: "evil", name: "x") { id } }'),
];

describe("owners allowlist, closed, through the gateway", () => {
  let fake: FakeGithub;
  let gw: Running;
  let base: string;
  beforeAll(async () => {
    fake = fakeGithub(USERS, { idLinks: true, issues: 45 });
    gw = await startGateway(config(fake, 'allowed_owners = ["acme"]'), env);
    base = gw.url.href.replace(/\/$/, "");
  });
  afterAll(async () => {
    await gw.shutdown();
    fake.stop();
  });

  /** A road that must be refused without any upstream request. */
  async function expectRefused(res: Promise<Response>, before: number) {
    const r = await res;
    const body = (await r.json()) as { error: string; message: string };
    expect(r.status).toBe(403);
    expect(body.error).toBe("owner_not_allowed");
    expect(body.message).toMatch(/owners allowlist|allowed owners/);
    expect(fake.log.length).toBe(before);
  }

  test.each(REST_ROADS)("REST GET %s is refused, the upstream sees nothing", async (target) => {
    await expectRefused(fetch(`${base}${target}`), fake.log.length);
  });

  test.each(GRAPHQL_ROADS)("GraphQL %s is refused, the upstream sees nothing", async (body) => {
    await expectRefused(fetch(`${base}/graphql`, { method: "POST", body }), fake.log.length);
  });

  test("dot segments are resolved before the check, and the resolved path is the one forwarded", async () => {
    const port = gw.server.port!;
    const before = fake.log.length;
    expect(await rawGet(port, "/repos/acme/x/../../evil/y")).toBe(403);
    expect(await rawGet(port, "/repos/acme/x/%2e%2e/%2e%2e/evil/y")).toBe(403);
    expect(fake.log.length).toBe(before);
    expect(await rawGet(port, "/repos/evil/../acme/x")).toBe(200);
    expect(fake.log.slice(before).map((l) => l.path)).toEqual(["/repos/acme/x"]);
  });

  test("writes follow the same closed rule; GraphQL mutations are refused", async () => {
    const auth = { authorization: "token own" };
    for (const [path, body] of [
      ["/user/repos", { name: "x" }],
      ["/repos/evil/x/issues", { title: "t" }],
      ["/gists", { files: {} }],
    ] as const)
      await expectRefused(fetch(`${base}${path}`, { method: "POST", headers: auth, body: JSON.stringify(body) }), fake.log.length);
    await expectRefused(
      fetch(`${base}/graphql`, { method: "POST", headers: auth, body: gql('mutation { addStar(input: { starrableId: "x" }) { clientMutationId } }') }),
      fake.log.length,
    );
    const ok = await fetch(`${base}/repos/acme/x/issues`, { method: "POST", headers: auth, body: JSON.stringify({ title: "t" }) });
    expect(ok.status).toBe(201);
    expect(fake.log.at(-1)).toMatchObject({ method: "POST", path: "/repos/acme/x/issues", token: "own" });
  });

  test("allowed reads pass: repo paths, scoped search, GraphQL with owner arguments and scoped search", async () => {
    expect((await fetch(`${base}/repos/Acme/x`)).status).toBe(200);
    expect((await fetch(`${base}/search/issues?q=${encodeURIComponent('is:open repo:"acme/x" -repo:evil/y')}`)).status).toBe(200);
    expect((await fetch(`${base}/rate_limit`)).status).toBe(200);
    const q = await fetch(`${base}/graphql`, {
      method: "POST",
      body: gql("query($o: String!, $q: String!) { repository(owner: $o, name: \"x\") { id } search(query: $q, type: ISSUE, first: 1) { issueCount } rateLimit { remaining } }", {
        o: "acme",
        q: "repo:acme/x is:open",
      }),
    });
    expect(q.status).toBe(200);
    expect(fake.log.at(-1)!.path).toBe("/graphql");
  });

  test("pages GitHub links by repository id are followed after a page of an allowed owner links to them", async () => {
    const first = await fetch(`${base}/repos/acme/x/issues?per_page=20`);
    const next = /<([^>]+)>; rel="next"/.exec(first.headers.get("link") ?? "")?.[1];
    expect(next).toMatch(new RegExp(`^${base}/repositories/\\d+/issues\\?per_page=20&page=2$`));
    const page2 = await fetch(next!);
    expect(page2.status).toBe(200);
    expect(((await page2.json()) as { number: number }[])[0]!.number).toBe(21);
    // an id no page of an allowed owner linked to stays refused
    await expectRefused(fetch(`${base}/repositories/999999/issues?page=2`), fake.log.length);
  });
});

describe("without an allowlist nothing is checked", () => {
  test("the same roads reach the upstream", async () => {
    const fake = fakeGithub(USERS, { idLinks: true });
    const gw = await startGateway(config(fake, ""), env);
    const base = gw.url.href.replace(/\/$/, "");
    try {
      expect((await fetch(`${base}/search/issues?q=bug`)).status).toBe(200);
      expect((await fetch(`${base}/repos/evil/x`)).status).toBe(200);
      expect((await fetch(`${base}/gists/abc123`)).status).toBe(404); // GitHub's answer, not the gateway's
      expect((await fetch(`${base}/graphql`, { method: "POST", body: gql("{ viewer { login } }") })).status).toBe(200);
      expect(fake.log.map((l) => l.path)).toEqual(expect.arrayContaining(["/search/issues", "/repos/evil/x", "/gists/abc123", "/graphql"]));
    } finally {
      await gw.shutdown();
      fake.stop();
    }
  });
});
