/**
 * The closed list of REST paths an owners allowlist serves: owner-scoped families, search carrying
 * scope qualifiers, global endpoints that expose no owner's data, and listings by numeric id that
 * GitHub itself linked to from a page of an allowed owner (linked.ts). Every other path is refused.
 */
import { ID_FAMILIES, type LinkedIds } from "./linked.ts";
import { refused, shown, type Scope } from "./owners.ts";
import { searchScope } from "./search.ts";

/** family word → whether a repo segment must follow the owner (/repos/{owner}/{repo}/…) */
const FAMILIES: ReadonlyMap<string, boolean> = new Map([
  ["repos", true],
  ["networks", true],
  ["orgs", false],
  ["users", false],
]);
/** endpoints that expose no owner's data ("" is the root, GET /) */
const GLOBAL = new Set(["", "rate_limit", "meta", "emojis", "licenses", "gitignore/templates", "octocat", "zen", "versions", "codes_of_conduct"]);
/** global lists whose items are global too: /licenses/{key}, /gitignore/templates/{name}, /codes_of_conduct/{key} */
const GLOBAL_ITEMS = new Set(["licenses", "gitignore/templates", "codes_of_conduct"]);
/** searches that take repo:/org:/user: qualifiers (labels and topics do not: refused) */
const SEARCHES = new Set(["code", "commits", "issues", "repositories", "users"]);
const LOGIN = /^[A-Za-z0-9_-]+$/;
const REPO = /^[A-Za-z0-9._-]+$/;

const SERVED = "with allowed_owners set, hubgate serves /repos/{owner}/{repo}/…, /networks/{owner}/{repo}/…, /orgs/{org}/…, /users/{user}/…, search with repo:/org:/user: qualifiers and global endpoints such as /rate_limit";

/** `path`: the github.com-layout API path as the upstream will get it; `search`: its query string. */
export function restScope(path: string, search: string, linked: LinkedIds): Scope {
  const segs = canonicalSegments(path);
  if (typeof segs === "string") return refused(`the path ${shown(path)} is not in canonical form (${segs})`);
  const [first = "", second = "", third = ""] = segs;
  const needsRepo = FAMILIES.get(first);
  if (needsRepo !== undefined) {
    if (!LOGIN.test(second)) return refused(`the owner segment of ${shown(path)} is missing or not a plain login`);
    if (needsRepo && !REPO.test(third)) return refused(`the repository segment of ${shown(path)} is missing or not a plain name`);
    return { kind: "owners", owners: [second], linkOwner: second };
  }
  if (first === "search" && segs.length === 2 && SEARCHES.has(second)) {
    // q[]=… counts as another q: a Rack-style parser may read it where URLSearchParams does not
    const q = [...new URLSearchParams(search)].filter(([k]) => k === "q" || k.startsWith("q["));
    if (q.length !== 1 || q[0]![0] !== "q") return refused("a search needs exactly one q parameter");
    return searchScope(q[0]![1]);
  }
  if (ID_FAMILIES.has(first) && /^\d+$/.test(second)) {
    const owner = linked.ownerOf(first, second);
    if (owner) return { kind: "owners", owners: [owner], linkOwner: owner };
    return refused(`/${first}/${second} is served only after GitHub linked to it from a page of an allowed owner (pagination); use /repos/{owner}/{repo}/…`);
  }
  if (GLOBAL.has(segs.join("/")) || (segs.length > 1 && GLOBAL_ITEMS.has(segs.slice(0, -1).join("/")))) return { kind: "global" };
  if (FAMILIES.has(first.toLowerCase())) return refused(`family words are matched as GitHub spells them, in lower case: ${shown(path)}`);
  if (first.includes("%")) return refused(`the first segment of ${shown(path)} is percent-encoded`);
  return refused(`${shown(path)} is not scoped to an owner; ${SERVED}`);
}

/**
 * The path's segments, or why it is not canonical. Dot segments are resolved before this (Bun resolves
 * them in request.url, and the upstream URL is built from the same resolved path), so what is checked
 * is what is forwarded; what remains ambiguous is refused, never normalised: empty segments, dot
 * segments still present raw or percent-encoded, percent-encoding that hides a slash around a dot
 * segment (a%2F..%2Fb), and (in restScope) any encoding in the family, owner and repo segments.
 */
function canonicalSegments(path: string): string[] | string {
  if (path === "/") return [];
  if (!path.startsWith("/")) return "no leading slash";
  // one trailing slash is GitHub's own spelling for a directory, e.g. Octokit's getContent({ path: "" })
  const segs = (path.endsWith("/") ? path.slice(1, -1) : path.slice(1)).split("/");
  for (const s of segs) {
    if (s === "") return "an empty segment";
    let decoded = s;
    if (s.includes("%"))
      try {
        decoded = decodeURIComponent(s);
      } catch {
        return "malformed percent-encoding";
      }
    if (decoded.split(/[/\\]/).some((p) => p === "." || p === "..")) return "a dot segment";
  }
  return segs;
}
