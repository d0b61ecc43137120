/**
 * The owners allowlist is closed: with allowed_owners = ["acme"], a request passes only when it is
 * provably scoped to acme (or exposes no owner's data); every other road is refused. Table-driven over
 * REST paths, search queries and GraphQL documents; the end-to-end half is in owners-app.test.ts.
 */
import { describe, expect, test } from "bun:test";
import { GatewayError } from "../../src/core/errors.ts";
import { classifyGraphql, type GraphqlRequest } from "../../src/github/graphql.ts";
import { LinkedIds } from "../../src/github/linked.ts";
import { OwnerPolicy, type Scope } from "../../src/github/owners.ts";
import { restScope } from "../../src/github/scope.ts";
import { searchScope } from "../../src/github/search.ts";

const policy = new OwnerPolicy(["Acme"]);
const open = new OwnerPolicy([]);
const BASE = "https://gw.example";

/** null when the scope passes, else the 403's message */
function verdict(p: OwnerPolicy, scope: Scope): string | null {
  try {
    p.check(scope);
    return null;
  } catch (e) {
    if (!(e instanceof GatewayError)) throw e;
    expect(e.code).toBe("owner_not_allowed");
    expect(e.status).toBe(403);
    return e.message;
  }
}

const label = (b: GraphqlRequest) => [b.query, b.variables && JSON.stringify(b.variables), b.operationName].filter(Boolean).join(" ");

function rest(target: string, linked = new LinkedIds()): Scope {
  const q = target.indexOf("?");
  return restScope(q < 0 ? target : target.slice(0, q), q < 0 ? "" : target.slice(q), linked);
}

describe("REST: served under the allowlist", () => {
  const allowed = [
    "/repos/acme/x",
    "/repos/ACME/x/issues?state=open&per_page=100",
    "/repos/acme/x/pulls/1/files",
    "/repos/acme/x/contents/", // Octokit's getContent({ path: "" })
    "/repos/acme/x/contents/docs/a%20b.md",
    "/repos/acme/x/git/ref/heads%2Ffeature%2Fx", // Octokit encodes a ref's slashes
    "/repos/acme/some.repo_name-1/branches/release%2F1.0",
    "/orgs/acme",
    "/orgs/acme/repos",
    "/users/acme/repos",
    "/networks/acme/x/events",
    "/",
    "/rate_limit",
    "/meta",
    "/emojis",
    "/licenses",
    "/licenses/mit",
    "/gitignore/templates",
    "/gitignore/templates/C%2B%2B",
    "/octocat",
    "/zen",
    "/versions",
    "/codes_of_conduct",
    "/codes_of_conduct/contributor_covenant",
    "/search/code?q=addClass+repo:acme/x",
    "/search/issues?q=is:open%20repo:acme/x%20-repo:evil/y",
    "/search/repositories?q=org:acme",
    "/search/commits?q=fix+user:acme",
    "/search/users?q=user:acme",
    "/search/issues?q=REPO:acme/x",
    '/search/issues?q=label:"help wanted" repo:"acme/x"',
  ];
  test.each(allowed)("%s", (target) => {
    expect(verdict(policy, rest(target))).toBeNull();
  });
});

describe("REST: refused under the allowlist, served without one", () => {
  const refused: [string, RegExp][] = [
    ["/repos/evil/x", /Owner "evil"/],
    ["/repos/evil/x/contents/README.md", /Owner "evil"/],
    ["/orgs/evil/repos", /Owner "evil"/],
    ["/users/evil", /Owner "evil"/],
    ["/networks/evil/x/events", /Owner "evil"/],
    // by numeric id, never linked from a page of acme
    ["/repositories/42", /repositories\/42 is served only after GitHub linked to it/],
    ["/repositories/42/issues?page=2", /linked to it/],
    ["/organizations/7/repos", /linked to it/],
    ["/user/9/repos", /linked to it/],
    // search
    ["/search/code?q=repo:evil/x", /Owner "evil"/],
    ["/search/repositories?q=org:evil", /Owner "evil"/],
    ["/search/issues?q=bug", /has none/],
    ["/search/code?q=addClass", /has none/],
    ["/search/issues?q=bug+-repo:acme/x", /has none/],
    ["/search/issues?q=repo:acme/x+repo:evil/y", /Owner "evil"/],
    ["/search/issues?q=repo:acme/x+OR+is:public", /uses OR/],
    ["/search/issues?q=repo:acme/x+or+is:public", /uses or/],
    ["/search/issues?q=NOT+repo:acme/x", /uses NOT/],
    ["/search/issues?q=repo:acme/x+(is:public)", /parentheses/],
    ['/search/issues?q="repo:acme/x"', /has none/],
    ['/search/issues?q=repo:"acme/x', /unbalanced quote/],
    ['/search/issues?q=bug"repo:evil/x"', /quote inside/],
    ["/search/issues?q=repo:acme/x,evil/y", /exactly one owner/],
    ["/search/repositories?q=user:*", /exactly one owner/],
    ["/search/issues?q=repo:acme/x&q=bug", /exactly one q/],
    ["/search/issues", /exactly one q/],
    ["/search/issues?q=repo:acme/x&q[]=bug", /exactly one q/],
    ["/search/issues?q[]=repo:acme/x", /exactly one q/],
    ["/search/labels?repository_id=1&q=repo:acme/x", /not scoped to an owner/],
    ["/search/topics?q=repo:acme/x", /not scoped to an owner/],
    // not scoped to an owner at all
    ["/user", /not scoped/],
    ["/user/repos", /not scoped/],
    ["/user/orgs", /not scoped/],
    ["/gists/abc123", /not scoped/],
    ["/gists/public", /not scoped/],
    ["/events", /not scoped/],
    ["/repositories", /not scoped/],
    ["/organizations", /not scoped/],
    ["/notifications", /not scoped/],
    ["/issues", /not scoped/],
    ["/feeds", /not scoped/],
    ["/advisories", /not scoped/],
    ["/markdown", /not scoped/],
    ["/installation/repositories", /not scoped/],
    ["/teams/1/repos", /not scoped/],
    ["/enterprises/acme/actions/runners", /not scoped/],
    ["/graphql/", /not scoped/],
    ["/repos/acme", /repository segment/],
    ["/users", /owner segment/],
    // spellings of a refused path
    ["//repos/evil/x", /empty segment/],
    ["/repos//evil/x", /empty segment/],
    ["/repos/acme/x//issues", /empty segment/],
    ["/Repos/evil/x", /lower case/],
    ["/REPOS/acme/x", /lower case/],
    ["/repos%2fevil/x", /percent-encoded/],
    ["/repos%2Facme%2Fx", /percent-encoded/],
    ["/%72epos/evil/x", /percent-encoded/],
    ["/repos/%61cme/x", /owner segment/],
    ["/repos/acme%2fevil/x", /owner segment/],
    ["/repos/acme/x%2f..%2f..%2fevil", /repository segment|dot segment/],
    ["/repos/acme/x/contents/a%2F..%2F..%2F..%2Fevil%2Fy", /dot segment/],
    ["/repos/acme/x/%2e%2e/%2e%2e/evil/y", /dot segment/],
    ["/repos/acme/x/../../evil/y", /dot segment/],
    ["/repos/acme/x/contents/%E0%A4%A", /malformed/],
  ];
  test.each(refused)("%s", (target, reason) => {
    expect(verdict(policy, rest(target))).toMatch(reason);
    expect(verdict(open, rest(target))).toBeNull();
  });
});

describe("REST: listings by numeric id that GitHub linked to from a page of an allowed owner", () => {
  test("a Link at the gateway's base teaches the id; other hosts, other positions and Location do not", () => {
    let now = 1_000_000;
    const linked = new LinkedIds(3, 60_000, () => now);
    linked.learn(
      `<${BASE}/repositories/1000/issues?per_page=3&page=2>; rel="next", <${BASE}/repositories/1000/issues?per_page=3&page=5>; rel="last", ` +
        `<https://elsewhere.example/repositories/66/issues>; rel="x", <${BASE}/repos/acme/user/77>; rel="y"`,
      "acme",
      BASE,
    );
    expect(verdict(policy, rest("/repositories/1000/issues?page=2", linked))).toBeNull();
    expect(verdict(policy, rest("/repositories/1000", linked))).toBeNull();
    expect(verdict(policy, rest("/repositories/66/issues", linked))).toMatch(/linked to it/);
    expect(verdict(policy, rest("/user/77", linked))).toMatch(/linked to it/);
    linked.learn(`<${BASE}/organizations/5/repos?page=2>; rel="next"`, "evil", BASE);
    expect(verdict(policy, rest("/organizations/5/repos?page=2", linked))).toMatch(/Owner "evil"/);
    now += 60_001;
    expect(verdict(policy, rest("/repositories/1000/issues?page=2", linked))).toMatch(/linked to it/);
  });

  test("bounded: the oldest id is forgotten first", () => {
    const linked = new LinkedIds(2);
    for (const id of [1, 2, 3]) linked.learn(`<${BASE}/repositories/${id}/issues?page=2>`, "acme", BASE);
    expect(linked.ownerOf("repositories", "1")).toBeNull();
    expect(linked.ownerOf("repositories", "3")).toBe("acme");
  });
});

describe("search queries", () => {
  const cases: [string, string[] | RegExp][] = [
    ["repo:acme/x", ["acme"]],
    ["is:open repo:acme/x repo:acme/y", ["acme", "acme"]],
    ['repo:"acme/x" "a phrase with repo:evil/y in it"', ["acme"]],
    ["Org:acme -org:evil -user:evil", ["acme"]],
    ["owner:acme language:go", ["acme"]],
    ["\trepo:acme/x\n bug ", ["acme"]],
    ["", /has none/],
    ["-repo:acme/x", /has none/],
    ['"repo:acme/x"', /has none/],
    ["repo:acme", /exactly one owner/],
    ["repo:acme/x/extra", /exactly one owner/],
    ["repo:", /exactly one owner/],
    ["user:ac%6De", /exactly one owner/],
    ["repo:acme/x OR repo:evil/y", /uses OR/],
    ["repo:acme/x (x)", /parentheses/],
    ['repo:acme/x "(not a group)"', ["acme"]],
  ];
  test.each(cases)("%p", (q, expected) => {
    const s = searchScope(q);
    if (Array.isArray(expected)) expect(s).toEqual({ kind: "owners", owners: expected });
    else expect(s.kind === "refused" && s.reason).toMatch(expected);
  });
});

describe("GraphQL: served under the allowlist", () => {
  const allowed: GraphqlRequest[] = [
    { query: 'query { repository(owner: "acme", name: "x") { issues(first: 5) { nodes { title } } } }' },
    { query: "query($o: String!, $n: String!) { repository(owner: $o, name: $n) { id } }", variables: { o: "ACME", n: "x" } },
    { query: 'query($o: String = "acme") { repositoryOwner(login: $o) { login } }' },
    { query: '{ org: organization(login: "acme") { name } me: user(login: "acme") { login } rateLimit { remaining } }' },
    { query: 'query { search(query: "repo:acme/x is:open", type: ISSUE, first: 5) { issueCount } }' },
    { query: "query($q: String!) { search(query: $q, type: REPOSITORY, first: 5) { repositoryCount } }", variables: { q: "org:acme topic:cli" } },
    { query: '{ ...Root } fragment Root on Query { repository(owner: "acme", name: "x") { id } }' },
    { query: '{ ... on Query { repository(owner: "acme", name: "x") { id } } }' },
    { query: "{ rateLimit { cost remaining } __typename }" },
    { query: "{ licenses { key } codesOfConduct { key } meta { gitIpAddresses } }" },
    { query: 'query A { viewer { login } } query B { repository(owner: "acme", name: "x") { id } }', operationName: "B" },
  ];
  test.each(allowed.map((b) => [label(b), b] as const))("%s", (_, body) => {
    const d = classifyGraphql(body);
    expect(d.kind).toBe("query");
    expect(verdict(policy, d.scope)).toBeNull();
  });
});

describe("GraphQL: refused under the allowlist, served without one", () => {
  const refused: [GraphqlRequest, RegExp][] = [
    [{ query: 'query { node(id: "MDEwOlJlcG9zaXRvcnkx") { id } }' }, /"node" is not scoped/],
    [{ query: 'query { nodes(ids: ["a", "b"]) { id } }' }, /"nodes" is not scoped/],
    [{ query: 'query { resource(url: "https://github.com/evil/x") { __typename } }' }, /"resource" is not scoped/],
    [{ query: "query { viewer { repositories(first: 100) { nodes { name } } } }" }, /"viewer" is not scoped/],
    [{ query: 'query { r: viewer { login } a: repository(owner: "acme", name: "x") { id } }' }, /"viewer" is not scoped/],
    [{ query: "{ ...V } fragment V on Query { viewer { login } }" }, /"viewer" is not scoped/],
    [{ query: '{ ... on Query { node(id: "x") { id } } }' }, /"node" is not scoped/],
    [{ query: '{ topic(name: "cli") { repositories(first: 5) { nodes { name } } } }' }, /"topic" is not scoped/],
    [{ query: '{ search(query: "is:public", type: REPOSITORY, first: 5) { repositoryCount } }' }, /has none/],
    [{ query: '{ search(query: "repo:evil/x", type: ISSUE, first: 5) { issueCount } }' }, /Owner "evil"/],
    [{ query: '{ search(query: "repo:acme/x OR is:public", type: ISSUE, first: 5) { issueCount } }' }, /uses OR/],
    [{ query: "query($q: String!) { search(query: $q, type: ISSUE, first: 5) { issueCount } }" }, /search\(query:\) must be/],
    [{ query: 'query { repository(owner: "evil", name: "x") { id } }' }, /Owner "evil"/],
    [{ query: 'query { repository(name: "x") { id } }' }, /has no owner argument/],
    [{ query: "query($o: String!) { user(login: $o) { login } }" }, /user\(login:\) argument must be/],
    [{ query: "query($o: String!) { user(login: $o) { login } }", variables: { o: ["evil"] } }, /user\(login:\) argument must be/],
    [{ query: '{ organization(login: "acme") { ...F } } fragment F on Organization { x: repositoryOwner(login: "evil") { id } }' }, /Owner "evil"/],
    [{ query: "{ ...Missing }" }, /unknown fragment/],
    [{ query: 'mutation { addStar(input: { starrableId: "x" }) { clientMutationId } }' }, /mutation addresses objects by node ID/],
    [{ query: "subscription { x }" }, /subscription/],
    [{ query: "query {" }, /cannot be checked/],
    [{ query: "query A { viewer { login } } query B { rateLimit { cost } }" }, /cannot be checked/],
  ];
  test.each(refused.map(([b, r]) => [label(b), b, r] as const))("%s", (_, body, reason) => {
    const d = classifyGraphql(body);
    expect(verdict(policy, d.scope)).toMatch(reason);
    expect(verdict(open, d.scope)).toBeNull();
  });
});
