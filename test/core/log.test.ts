/** The two log formats: JSON lines for collectors, text lines for terminals; both redacted by the one rule. */
import { describe, expect, test } from "bun:test";
import { formatText, Logger, memoryLogger, resolveFormat, stderrSink, stdoutSink } from "../../src/core/log.ts";
import { parseConfig } from "../../src/config/index.ts";

const TS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const GHP = "ghp_abcdefghijklmnopqrstuvwxyz0123456789";

describe("json", () => {
  test("one object a line: ts, level, msg first, then the logger's and the call's fields", () => {
    const { log, lines } = memoryLogger("info", "json");
    log.child({ component: "pool" }).info("listening", { url: "http://127.0.0.1:8080/", port: 8080 });
    log.debug("not written below the level");
    expect(lines).toHaveLength(1);
    const rec = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(Object.keys(rec)).toEqual(["ts", "level", "msg", "component", "url", "port"]);
    expect(rec).toMatchObject({ level: "info", msg: "listening", component: "pool", port: 8080 });
    expect(rec.ts).toMatch(TS);
  });

  test("credentials are redacted in the message, in fields by name and by shape", () => {
    const { log, lines } = memoryLogger("debug", "json");
    log.warn(`fetch /echo/${GHP} failed`, { path: `/x?access_token=abc`, client_secret: "s3cr3t", err: new Error(`Bearer ${GHP}`) });
    expect(lines[0]).not.toContain(GHP.slice(4));
    expect(lines[0]).not.toContain("s3cr3t");
    expect(JSON.parse(lines[0]!)).toMatchObject({
      msg: "fetch /echo/ghp_…[redacted] failed",
      path: "/x?access_token=[redacted]",
      client_secret: "[redacted]",
      err: { name: "Error", message: "Bearer ghp_…[redacted]" },
    });
  });
});

describe("text", () => {
  test("`<ts> <LEVEL> <msg> key=value …`, the level padded to five", () => {
    expect(formatText("2026-12-02T04:00:00.000Z", "info", "listening", { url: "http://127.0.0.1:8080", port: 8080 })).toBe(
      "2026-12-02T04:00:00.000Z INFO  listening url=http://127.0.0.1:8080 port=8080",
    );
    expect(formatText("2026-12-02T04:00:00.000Z", "error", "request failed", { code: "unseal_failed", status: 500 })).toBe(
      "2026-12-02T04:00:00.000Z ERROR request failed code=unseal_failed status=500",
    );
  });

  test("values with spaces, quotes, = or control characters are quoted; nested objects become dotted keys; arrays are JSON", () => {
    const line = formatText("T", "warn", "m", {
      hint: "pass --config or set HUBGATE_CONFIG",
      q: 'say "hi"',
      eq: "a=b",
      nl: "two\nlines",
      empty: "",
      ok: true,
      none: null,
      skipped: undefined,
      err: { name: "TypeError", message: "x is not a function" },
      scopes: ["repo", "read:org"],
    });
    expect(line).toBe(
      'T WARN  m hint="pass --config or set HUBGATE_CONFIG" q="say \\"hi\\"" eq="a=b" nl="two\\nlines" empty="" ok=true none=null err.name=TypeError err.message="x is not a function" scopes=["repo","read:org"]',
    );
  });

  test("a multi-line message stays one record: its continuation lines are indented", () => {
    expect(formatText("T", "error", "config invalid:\n  a: bad\n  b: bad", {})).toBe("T ERROR config invalid:\n      a: bad\n      b: bad");
  });

  test("the same redaction applies", () => {
    const { log, lines } = memoryLogger("debug", "text");
    log.info(`GET /oauth/connect/${"Zm9v".repeat(10)}`, { path: `/echo/${GHP}`, api_key: "k-123", hint: `Bearer ${GHP}` });
    expect(lines[0]).toMatch(/^\S+Z INFO  GET \/oauth\/connect\/…\[redacted\] path=\/echo\/ghp_…\[redacted\] api_key=\[redacted\] hint="Bearer ghp_…\[redacted\]"$/);
    expect(lines[0]).not.toContain(GHP.slice(4));
  });
});

describe("choosing the format", () => {
  test("auto is text on a terminal and JSON otherwise, decided when set; a sink of one's own is never a terminal", () => {
    expect(resolveFormat("auto", stdoutSink)).toBe(process.stdout.isTTY ? "text" : "json");
    expect(resolveFormat("auto", stderrSink)).toBe(process.stderr.isTTY ? "text" : "json");
    expect(resolveFormat("auto", () => {})).toBe("json");
    expect(resolveFormat("text", () => {})).toBe("text");
    expect(resolveFormat("json", stdoutSink)).toBe("json");
  });

  test("setFormat switches the lines written from then on", () => {
    const lines: string[] = [];
    const log = new Logger("info", {}, (l) => lines.push(l));
    log.info("a");
    log.setFormat("text");
    log.info("b", { n: 1 });
    log.setFormat("auto");
    log.info("c");
    expect(JSON.parse(lines[0]!)).toMatchObject({ msg: "a" });
    expect(lines[1]).toMatch(/^\S+Z INFO  b n=1$/);
    expect(JSON.parse(lines[2]!)).toMatchObject({ msg: "c" });
  });

  test("a format chosen at construction stays (a program reading the lines needs it); children inherit format and fixedness", () => {
    const lines: string[] = [];
    const fixed = new Logger("info", {}, (l) => lines.push(l), "json");
    fixed.setFormat("text");
    fixed.child({ c: 1 }).setFormat("text");
    fixed.child({ c: 1 }).info("a");
    const follows = new Logger("info", {}, (l) => lines.push(l));
    follows.setFormat("text");
    const child = follows.child({ c: 2 });
    child.info("b");
    child.setFormat("json");
    child.info("c");
    expect(JSON.parse(lines[0]!)).toMatchObject({ msg: "a", c: 1 });
    expect(lines[1]).toMatch(/^\S+Z INFO  b c=2$/);
    expect(JSON.parse(lines[2]!)).toMatchObject({ msg: "c", c: 2 });
  });
});

describe("[logging] format in the config", () => {
  test("json, text and auto are accepted (auto by default); anything else is an error naming the key", () => {
    expect(parseConfig("").logging.format).toBe("auto");
    for (const f of ["json", "text", "auto"] as const) expect(parseConfig(`[logging]\nformat = "${f}"\n`).logging.format).toBe(f);
    expect(() => parseConfig(`[logging]\nformat = "xml"\n`)).toThrow(/logging\.format/);
  });
});
