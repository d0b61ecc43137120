/** The README's configuration examples are valid configuration, and its two set-up commands are the ones package.json runs. */
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseConfig } from "../src/config/index.ts";
import { ROOT } from "./helpers/gateway.ts";

const readme = readFileSync(join(ROOT, "README.md"), "utf8");

test("every toml block in the README parses and validates", () => {
  const blocks = [...readme.matchAll(/```toml\n([\s\S]*?)```/g)].map((m) => m[1]!.replace(/^ {3}/gm, ""));
  expect(blocks.length).toBeGreaterThan(0);
  for (const b of blocks) expect(() => parseConfig(b)).not.toThrow();
});

test("the README opens with exactly the two set-up commands", () => {
  const first = /```sh\n([\s\S]*?)```/.exec(readme)![1]!.trim().split("\n");
  expect(first).toHaveLength(2);
  expect(first[0]).toStartWith("npm install -g bun && bun install && bun run start");
  expect(first[1]).toStartWith("bun run test");
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> };
  expect(pkg.scripts.start).toContain("serve");
  expect(pkg.scripts.test).toContain("tsc --noEmit");
});
