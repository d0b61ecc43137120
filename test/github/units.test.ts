import { describe, expect, test } from "bun:test";
import { bucketOf } from "../../src/github/bucket.ts";
import { classifyGraphql } from "../../src/github/graphql.ts";
import { rewriteLink, rewriteUrl } from "../../src/github/rewrite.ts";
import { resolveLayout } from "../../src/github/layout.ts";
import { globToRegExp } from "../../src/core/glob.ts";
import { etagMatches } from "../../src/github/cache.ts";
import { clientCredential } from "../../src/github/auth.ts";
import { RateBook } from "../../src/github/ratelimit.ts";

describe("buckets", () => {
  test("requests spend the bucket GitHub will charge", () => {
    expect(bucketOf("GET", "/repos/o/r")).toBe("core");
    expect(bucketOf("GET", "/search/issues")).toBe("search");
    expect(bucketOf("GET", "/search/code")).toBe("code_search");
    expect(bucketOf("POST", "/graphql")).toBe("graphql");
  });
});

describe("GraphQL classification (real parser)", () => {
  test("queries, mutations, shorthand, several operations with operationName", () => {
    expect(classifyGraphql({ query: "{ viewer { login } }" }).kind).toBe("query");
    expect(classifyGraphql({ query: "query Q { viewer { login } }" }).kind).toBe("query");
    expect(classifyGraphql({ query: "mutation M { addStar(input:{starrableId:\"x\"}) { clientMutationId } }" }).kind).toBe("mutation");
    const doc = "query A { viewer { login } } mutation B { addStar(input:{}) { clientMutationId } }";
    expect(classifyGraphql({ query: doc, operationName: "A" }).kind).toBe("query");
    expect(classifyGraphql({ query: doc, operationName: "B" }).kind).toBe("mutation");
    expect(classifyGraphql({ query: doc }).kind).toBe("invalid");
    expect(classifyGraphql({ query: doc, operationName: "C" }).kind).toBe("invalid");
  });

  test("a prefix check would be fooled; the parser is not", () => {
    // comment and whitespace before the keyword, and a query whose text contains "mutation"
    expect(classifyGraphql({ query: "# query?\n  mutation { x }" }).kind).toBe("mutation");
    expect(classifyGraphql({ query: 'query { search(query: "mutation") { issueCount } }' }).kind).toBe("query");
    expect(classifyGraphql({ query: "query {" }).kind).toBe("invalid");
    expect(classifyGraphql({ query: 42 }).kind).toBe("invalid");
    expect(classifyGraphql({ query: "subscription { x }" }).kind).toBe("subscription");
  });

  test("owners named in repository/organization/user arguments, literal or variable, fragments included", () => {
    const r = classifyGraphql({
      query: `query($o: String!) { repository(owner: $o, name: "r") { id } organization(login: "acme") { ...F } }
              fragment F on Organization { x: repositoryOwner(login: "evil") { id } }`,
      variables: { o: "octo" },
    });
    expect(r.kind).toBe("query");
    expect(r.scope.kind === "owners" && [...r.scope.owners].sort()).toEqual(["acme", "evil", "octo"]);
    const dyn = classifyGraphql({ query: "query($o: String!) { repository(owner: $o, name: \"r\") { id } }" });
    expect(dyn.scope).toMatchObject({ kind: "refused", reason: expect.stringContaining("repository(owner:)") });
  });
});

describe("link rewriting", () => {
  const up = "https://api.github.com";
  const gw = "https://hubgate.internal";
  test("Link and Location at the upstream base move to the gateway; other hosts untouched", () => {
    const link = `<https://api.github.com/repos/o/r/issues?page=2>; rel="next", <https://api.github.com/repos/o/r/issues?page=5>; rel="last"`;
    expect(rewriteLink(link, up, gw)).toBe(`<https://hubgate.internal/repos/o/r/issues?page=2>; rel="next", <https://hubgate.internal/repos/o/r/issues?page=5>; rel="last"`);
    expect(rewriteUrl("https://codeload.github.com/o/r/tar.gz/main", up, gw)).toBe("https://codeload.github.com/o/r/tar.gz/main");
    expect(rewriteUrl("https://api.github.com.evil.com/x", up, gw)).toBe("https://api.github.com.evil.com/x");
    expect(rewriteUrl("https://ghe.example.com/api/v3/repos/o/r", "https://ghe.example.com/api/v3", `${gw}/api/v3`)).toBe(`${gw}/api/v3/repos/o/r`);
  });
});

describe("layouts", () => {
  const pub = new URL("https://gw.example/");
  test("github.com layout at the mount and the GHES layout", () => {
    expect(resolveLayout("/repos/o/r", "", pub)).toEqual({ path: "/repos/o/r", clientBase: "https://gw.example" });
    expect(resolveLayout("/api/v3/repos/o/r", "", pub)).toEqual({ path: "/repos/o/r", clientBase: "https://gw.example/api/v3" });
    expect(resolveLayout("/api/graphql", "", pub)).toEqual({ path: "/graphql", clientBase: "https://gw.example/api/v3" });
    expect(resolveLayout("/gh/repos/o/r", "/gh", pub)).toEqual({ path: "/repos/o/r", clientBase: "https://gw.example/gh" });
    expect(resolveLayout("/other", "/gh", pub)).toBeNull();
  });
});

describe("misc", () => {
  test("TTL globs: * within a segment, ** across", () => {
    expect(globToRegExp("/repos/*/*/pulls").test("/repos/o/r/pulls")).toBe(true);
    expect(globToRegExp("/repos/*/*/pulls").test("/repos/o/r/x/pulls")).toBe(false);
    expect(globToRegExp("/repos/**").test("/repos/o/r/x/pulls")).toBe(true);
    expect(globToRegExp("/a.b").test("/aXb")).toBe(false);
  });
  test("ETag weak comparison", () => {
    expect(etagMatches('W/"abc"', '"abc"')).toBe(true);
    expect(etagMatches('"x", "abc"', 'W/"abc"')).toBe(true);
    expect(etagMatches('"x"', '"abc"')).toBe(false);
    expect(etagMatches(null, '"abc"')).toBe(false);
  });
  test("client credentials: token and Bearer schemes; hubgate vs GitHub tokens", () => {
    const req = (a?: string) => new Request("http://localhost/", { headers: a ? { authorization: a } : {} });
    expect(clientCredential(req())).toEqual({ kind: "none" });
    expect(clientCredential(req("token ghp_abc"))).toEqual({ kind: "github", token: "ghp_abc" });
    expect(clientCredential(req("Bearer hg_live_x"))).toEqual({ kind: "hubgate", token: "hg_live_x" });
  });
});

describe("rate book", () => {
  const h = (remaining: number, reset: number, extra: Record<string, string> = {}) =>
    new Headers({ "x-ratelimit-limit": "5000", "x-ratelimit-remaining": String(remaining), "x-ratelimit-reset": String(reset), "x-ratelimit-resource": "core", ...extra });
  test("tracks (budget, bucket); out-of-order responses keep the lowest remaining; local spend", () => {
    let now = 1_000_000;
    const b = new RateBook(() => now);
    b.observe("u1", h(100, 2000), "core");
    b.observe("u1", h(120, 2000), "core");
    expect(b.state("u1", "core")!.remaining).toBe(100);
    b.spend("u1", "core");
    expect(b.rank("u1", "core")).toBe(99);
    expect(b.rank("u1", "search")).toBe(Number.MAX_SAFE_INTEGER);
    now = 2_000_001;
    expect(b.state("u1", "core")!.remaining).toBe(5000); // window over
  });
  test("exhaustion until reset; secondary bench uses retry-after, else ≥60 s doubling", () => {
    let now = 1_000_000;
    const b = new RateBook(() => now);
    b.exhaust("u1", "core", 1_500_000);
    expect(b.availableAt("u1", "core")).toBe(1_500_000);
    expect(b.availableAt("u1", "search")).toBe(now);
    expect(b.bench("u2", 30_000)).toBe(now + 30_000);
    expect(b.bench("u3", null)).toBe(now + 60_000);
    expect(b.bench("u3", null)).toBe(now + 120_000);
    now += 200_000;
    b.succeeded("u3");
    expect(b.bench("u3", null)).toBe(now + 60_000);
  });
});
