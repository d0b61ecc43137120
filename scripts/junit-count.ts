#!/usr/bin/env bun
/** Prints "tests failures errors skipped" summed over the top-level <testsuite> elements of a JUnit XML report. */
const xml = await Bun.file(process.argv[2] ?? "").text();
const root = /<testsuites\b([^>]*)>/.exec(xml);
const attr = (s: string, name: string) => Number(new RegExp(`\\b${name}="(\\d+)"`).exec(s)?.[1] ?? 0);
if (root) {
  const a = root[1]!;
  console.log(attr(a, "tests"), attr(a, "failures"), attr(a, "errors"), attr(a, "skipped"));
} else {
  let t = 0, f = 0, e = 0, s = 0;
  for (const m of xml.matchAll(/<testsuite\b([^>]*)>/g)) {
    t += attr(m[1]!, "tests"); f += attr(m[1]!, "failures"); e += attr(m[1]!, "errors"); s += attr(m[1]!, "skipped");
  }
  console.log(t, f, e, s);
}
export {};
