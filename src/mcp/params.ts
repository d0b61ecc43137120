/**
 * Repeated request parameters. RFC 6749 §3.1–3.2: parameters must not be included more than once, and
 * a request that repeats one is invalid_request — never "take the first". RFC 8707 does allow several
 * `resource` parameters, but this gateway issues a token for one MCP server, so several are
 * invalid_target (RFC 8707 §2: the authorization server may refuse a target it will not issue for).
 */
import type { GatewayError } from "../core/errors.ts";
import { oauthError } from "./errors.ts";

export { repeatedParams } from "../core/url.ts";

/** The OAuth error for a request that repeats `repeated` (see repeatedParams), or null when it repeats nothing. */
export function repeatedParamsError(repeated: readonly string[]): GatewayError | null {
  if (repeated.length === 0) return null;
  const others = repeated.filter((n) => n !== "resource");
  if (others.length === 0) return oauthError("invalid_target", "one resource per request: a token is issued for a single MCP server");
  return oauthError("invalid_request", `parameter sent more than once: ${others.map((n) => JSON.stringify(n)).join(", ")}`);
}

/**
 * A member name that occurs twice in one object of a JSON text, or null. JSON.parse keeps the last of
 * them without a word, so a registration could be read differently by a proxy or log in front of the
 * gateway than by the gateway. `json` must already have parsed.
 */
export function repeatedMember(json: string): string | null {
  const open: (Set<string> | null)[] = []; // per open container: the member names met so far (null: an array)
  for (let i = 0; i < json.length; i++) {
    const c = json[i];
    if (c === "{") open.push(new Set());
    else if (c === "[") open.push(null);
    else if (c === "}" || c === "]") open.pop();
    else if (c === '"') {
      let end = i + 1;
      while (json[end] !== '"') end += json[end] === "\\" ? 2 : 1;
      const names = open.at(-1);
      let next = end + 1;
      while (json[next] === " " || json[next] === "\t" || json[next] === "\n" || json[next] === "\r") next++;
      if (names && json[next] === ":") {
        const name = JSON.parse(json.slice(i, end + 1)) as string; // escapes decoded: "a" and "\u0061" are one name
        if (names.has(name)) return name;
        names.add(name);
      }
      i = end;
    }
  }
  return null;
}
