/** The house rule "no import circles": the module graph of src/ (type imports included) has no cycle. */
import { expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { ROOT } from "../helpers/gateway.ts";

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith(".ts") ? [p] : [];
  });
}

/** Strongly connected components of more than one module (Tarjan). */
function cycles(graph: Map<string, string[]>): string[][] {
  let index = 0;
  const stack: string[] = [];
  const onStack = new Set<string>();
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const out: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const c: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        c.push(w);
      } while (w !== v);
      if (c.length > 1) out.push(c);
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return out;
}

test("src/ has no import cycle", () => {
  const src = join(ROOT, "src");
  const files = sources(src);
  const known = new Set(files);
  const graph = new Map<string, string[]>();
  for (const f of files) {
    const text = readFileSync(f, "utf8");
    const deps = [...text.matchAll(/^(?:import|export)\s[^;]*?from\s+"(\.[^"]+)"/gms)].map((m) => resolve(dirname(f), m[1]!)).filter((p) => known.has(p));
    graph.set(f, deps);
  }
  expect(cycles(graph).map((c) => c.map((f) => relative(src, f)).sort())).toEqual([]);
});

test("features never import the composition root: only src/root itself, the CLI and main.ts do", () => {
  const src = join(ROOT, "src");
  const root = join(src, "root");
  const offenders = sources(src)
    .filter((f) => !f.startsWith(root + "/") && !f.startsWith(join(src, "cli") + "/") && f !== join(src, "main.ts"))
    .filter((f) => [...readFileSync(f, "utf8").matchAll(/^(?:import|export)\s[^;]*?from\s+"(\.[^"]+)"/gms)].some((m) => resolve(dirname(f), m[1]!).startsWith(root + "/")))
    .map((f) => relative(src, f));
  expect(offenders).toEqual([]);
});
