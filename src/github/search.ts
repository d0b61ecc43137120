/**
 * Which owners a GitHub search query (REST `q`, GraphQL `search(query:)`) is confined to. GitHub ORs
 * several repo:/org:/user:/owner: qualifiers together and ANDs everything else, so a query is confined
 * when it has at least one positive scope qualifier and every one of them names an allowed owner.
 * Negated qualifiers (-repo:) only narrow, so they are not scope. Quoted values are read as GitHub
 * does (repo:"o/r"); a quoted term ("repo:o/r") is a phrase, not a qualifier. Qualifier names are
 * case-insensitive.
 */
import { refused, shown, type Scope } from "./owners.ts";

const SCOPE_QUALIFIERS = new Set(["repo", "org", "user", "owner"]);
/** a login (with the underscore of enterprise-managed users); no wildcard, list or encoding */
const LOGIN = /^[A-Za-z0-9_-]+$/;
const REPO = /^([A-Za-z0-9_-]+)\/[A-Za-z0-9._-]+$/;
/** a qualifier: optional negation, name, then a bare or fully quoted value */
const QUALIFIER = /^(-?)([A-Za-z_]+):(?:"([^"]*)"|([^"]*))$/;
const PHRASE = /^-?"[^"]*"$/;

interface Token {
  text: string;
  /** a parenthesis outside quotes */
  paren: boolean;
}

export function searchScope(q: string): Scope {
  const tokens = tokenize(q);
  if (!tokens) return refused("the search query has an unbalanced quote");
  const owners: string[] = [];
  for (const t of tokens) {
    // OR / NOT and grouping could join a scoped term with an unscoped one: refused rather than interpreted
    if (t.paren || /^(?:OR|NOT)$/i.test(t.text)) return refused(`the search query uses ${t.paren ? "parentheses" : t.text}, which can widen it beyond its repo:/org:/user: qualifiers`);
    if (PHRASE.test(t.text)) continue;
    const m = QUALIFIER.exec(t.text);
    if (!m) {
      if (t.text.includes('"')) return refused(`the search term ${shown(t.text)} has a quote inside it`);
      continue;
    }
    const name = m[2]!.toLowerCase();
    if (!SCOPE_QUALIFIERS.has(name) || m[1] === "-") continue;
    const value = m[3] ?? m[4] ?? "";
    const owner = name === "repo" ? REPO.exec(value)?.[1] : LOGIN.test(value) ? value : undefined;
    if (owner === undefined) return refused(`the search qualifier ${shown(`${name}:${value}`)} does not name exactly one owner`);
    owners.push(owner);
  }
  if (!owners.length) return refused("a search is served only with a repo:, org:, user: or owner: qualifier naming an allowed owner, and this one has none");
  return { kind: "owners", owners };
}

/** Terms split on whitespace outside double quotes; null when a quote is left open. */
function tokenize(q: string): Token[] | null {
  const out: Token[] = [];
  let text = "";
  let paren = false;
  let quoted = false;
  for (const ch of q) {
    if (ch === '"') quoted = !quoted;
    else if (!quoted && /\s/.test(ch)) {
      if (text) out.push({ text, paren });
      text = "";
      paren = false;
      continue;
    } else if (!quoted && (ch === "(" || ch === ")")) paren = true;
    text += ch;
  }
  if (quoted) return null;
  if (text) out.push({ text, paren });
  return out;
}
