/** The audit kinds are declared in one place; each declared kind is in use, and the README lists them all. */
import { expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { AUDIT_KINDS, isAuditKind } from "../../src/store/audit.ts";
import { ROOT } from "../helpers/gateway.ts";

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith(".ts") ? [p] : [];
  });
}

test("every declared audit kind is appended somewhere in src/ (the list holds no dead kinds)", () => {
  // every source file, the declaration itself left out
  const text = sources(join(ROOT, "src"))
    .map((f) => readFileSync(f, "utf8").replace(/export const AUDIT_KINDS = \{[\s\S]*?\} as const/, ""))
    .join("\n");
  const unused = Object.keys(AUDIT_KINDS).filter((k) => !text.includes(`"${k}"`));
  expect(unused).toEqual([]);
});

test("isAuditKind knows exactly the declared kinds", () => {
  expect(isAuditKind("token.created")).toBe(true);
  expect(isAuditKind("token.create")).toBe(false);
  expect(isAuditKind("toString")).toBe(false);
});

test("the README lists every audit kind", () => {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const missing = Object.keys(AUDIT_KINDS).filter((k) => !readme.includes(`| \`${k}\` |`));
  expect(missing).toEqual([]);
});
