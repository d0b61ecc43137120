/**
 * The `operations` allow-list of an endpoint's upstream OpenAPI document, one rule for the docs and the
 * generated MCP tools: each entry is an operationId (`repos/get`), a path glob as the upstream document
 * writes its paths (`/repos/*\/*\/issues`, `**` across segments), or a method and a glob (`GET /repos/**`).
 */
import { globToRegExp } from "../core/glob.ts";

const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"]);

type Entry = { kind: "id"; id: string } | { kind: "path"; method: string | null; re: RegExp };

export interface OperationFilter {
  /** the index of the first entry that lets the operation through, or -1 */
  match(op: { method: string; path: string; operationId?: string }): number;
  readonly entries: readonly string[];
}

/** Parses the allow-list; the error names the entry that cannot be read. */
export function parseOperationFilter(entries: readonly string[]): { filter: OperationFilter } | { error: string; index: number } {
  const parsed: Entry[] = [];
  for (const [i, raw] of entries.entries()) {
    const e = raw.trim();
    const sp = /^([A-Za-z]+)\s+(\/\S*)$/.exec(e);
    if (sp) {
      const method = sp[1]!.toUpperCase();
      if (!METHODS.has(method)) return { error: `"${raw}": ${sp[1]} is not an HTTP method`, index: i };
      parsed.push({ kind: "path", method, re: globToRegExp(sp[2]!) });
    } else if (e.startsWith("/")) {
      if (/\s/.test(e)) return { error: `"${raw}": a path glob has no spaces`, index: i };
      parsed.push({ kind: "path", method: null, re: globToRegExp(e) });
    } else if (/\s/.test(e) || e === "") {
      return { error: `"${raw}": expected an operationId, a path glob starting with /, or "METHOD /glob"`, index: i };
    } else parsed.push({ kind: "id", id: e });
  }
  return {
    filter: {
      entries,
      match(op) {
        return parsed.findIndex((p) => (p.kind === "id" ? p.id === op.operationId : (p.method === null || p.method === op.method) && p.re.test(op.path)));
      },
    },
  };
}
