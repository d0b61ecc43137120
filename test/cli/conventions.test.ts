/**
 * The command line follows the conventions of kubectl, gh and vault: help for every command and
 * sub-command, exit 2 for a wrong command line (naming the flag or argument, with "did you mean"), exit 1
 * for a failure, tables with a header row and --json for scripts, no JSON log line in a command's output,
 * one `error: <command>:` prefix. All against the real CLI, on the database of a running gateway.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { runCli, startGateway, tempDir, writeConfig } from "../helpers/gateway.ts";
import { openEndpoint, upstream } from "../helpers/upstream.ts";
import { commands } from "../../src/cli/commands.ts";
import { isGroup } from "../../src/cli/spec.ts";
import { AUDIT_KINDS } from "../../src/store/audit.ts";
import type { Running } from "../../src/root/serve.ts";

type Result = Awaited<ReturnType<typeof runCli>>;

/** Every line of a table lines up under its header: each header column starts where every row's cell does. */
function expectAligned(stdout: string): void {
  const [header, ...rows] = stdout.trimEnd().split("\n");
  const starts = [...header!.matchAll(/\S+(?: \S+)*/g)].map((m) => m.index!).slice(1);
  expect(starts.length).toBeGreaterThan(1);
  for (const row of rows) for (const s of starts) expect([row.slice(s - 2, s), row[s] !== " "]).toEqual(["  ", true]);
}

/** No line of the output is a JSON log record. */
function expectNoLogLines(r: Result): void {
  for (const line of `${r.stdout}\n${r.stderr}`.split("\n")) expect(line).not.toMatch(/^\{.*"(level|msg)":/);
}

/** A usage error: exit 2, `error: <path>: <message>`, the usage line, a pointer to the help. */
function expectUsageError(r: Result, path: string, message: string | RegExp): void {
  expect(r.code).toBe(2);
  const [first, second, third] = r.stderr.split("\n");
  expect(first).toStartWith(`error: ${path}: `);
  if (typeof message === "string") expect(first).toContain(message);
  else expect(first).toMatch(message);
  expect(second).toStartWith(`usage: hubgate ${path}`);
  expect(third).toBe(`Run 'hubgate ${path} --help' for more.`);
  expect(r.stdout).toBe("");
}

describe("hubgate command line conventions", () => {
  let gw: Running & { configPath: string; dir: string };
  const up = upstream(() => Response.json({ ok: true }));
  // a literal client secret: management commands warn about it, as plain text
  const body = `${openEndpoint("web", "api", up.url)}
[[oauth_connections]]
name = "github"
preset = "github"
client_id = "id"
client_secret = "literal-client-secret-for-tests"
`;
  const cli = (args: string[]) => runCli([...args, "--config", gw.configPath]);

  beforeAll(async () => {
    gw = await startGateway(body);
    for (const p of ["/one", "/two", "/three"]) await fetch(new URL(`api/web/proxy/api${p}`, gw.url));
    gw.gw.requestLog.flush();
  });
  afterAll(async () => {
    await gw.shutdown();
    up.stop();
  });

  describe("help", () => {
    test("hubgate, --help, -h and help list every command with its one-line summary; exit 0", async () => {
      const outs = await Promise.all([[], ["--help"], ["-h"], ["help"]].map((a) => runCli(a)));
      for (const r of outs) {
        expect(r.code).toBe(0);
        expect(r.stderr).toBe("");
        expect(r.stdout).toBe(outs[0]!.stdout);
      }
      for (const [name, c] of Object.entries(commands)) expect(outs[0]!.stdout).toMatch(new RegExp(`^  ${name} +${c.summary.replace(/[[\]().*+?]/g, "\\$&")}$`, "m"));
      expect(outs[0]!.stdout).toContain("Exit status: 0 done; 1 the command failed; 2 the command line is wrong");
    });

    test("token --help, token -h and help token: the sub-commands with their summaries", async () => {
      const [a, b, c] = await Promise.all([runCli(["token", "--help"]), runCli(["token", "-h"]), runCli(["help", "token"])]);
      for (const r of [a, b, c]) {
        expect(r.code).toBe(0);
        expect(r.stdout).toBe(a.stdout);
      }
      expect(a.stdout).toContain("Usage:\n  hubgate token <create|list|revoke> [flags]");
      expect(a.stdout).toMatch(/^ {2}create +create an API token/m);
      expect(a.stdout).toMatch(/^ {2}revoke +revoke an API token/m);
      expect(a.stdout).toContain("Examples:");
    });

    test("token create --help and help token create: usage, every flag, examples; help wins over other flags", async () => {
      const [a, b, c] = await Promise.all([
        runCli(["token", "create", "--help"]),
        runCli(["help", "token", "create"]),
        runCli(["token", "create", "--project", "web", "--bogus", "-h"]),
      ]);
      for (const r of [a, b, c]) {
        expect(r.code).toBe(0);
        expect(r.stdout).toBe(a.stdout);
      }
      expect(a.stdout).toContain("Usage:\n  hubgate token create --project PROJECT --name NAME [--scope SCOPE]... [--env live|test] [--expires DURATION] [--config PATH]");
      for (const f of ["--project PROJECT", "--name NAME", "--scope SCOPE", "--env live|test", "--expires DURATION", "-c, --config PATH", "-h, --help"]) expect(a.stdout).toContain(f);
      expect(a.stdout).toContain("Examples:\n  hubgate token create --project web --name ci");
    });

    test("every command and sub-command has help with its usage line; exit 0", async () => {
      const paths = Object.entries(commands).flatMap(([n, c]) => (isGroup(c) ? [n, ...Object.keys(c.subcommands).map((s) => `${n} ${s}`)] : [n]));
      const results = await Promise.all(paths.map((p) => runCli([...p.split(" "), "--help"])));
      results.forEach((r, i) => {
        expect(r.code).toBe(0);
        expect(r.stdout).toContain(`Usage:\n  hubgate ${paths[i]}`);
      });
    });

    test("audit --help lists every audit kind with what it records", async () => {
      const r = await runCli(["audit", "--help"]);
      expect(r.code).toBe(0);
      for (const [kind, what] of Object.entries(AUDIT_KINDS)) expect(r.stdout).toMatch(new RegExp(`^  ${kind.replace(/\./g, "\\.")} +${what.replace(/[[\]().*+?|]/g, "\\$&")}$`, "m"));
    });

    test("version, --version and -v print the same line", async () => {
      const rs = await Promise.all([["version"], ["--version"], ["-v"]].map((a) => runCli(a)));
      for (const r of rs) {
        expect(r.code).toBe(0);
        expect(r.stdout).toMatch(/^hubgate \S+ \(bun \S+\)\n$/);
        expect(r.stdout).toBe(rs[0]!.stdout);
      }
    });
  });

  describe("usage errors exit 2, name what is wrong, and come before the config is read", () => {
    // a config that does not exist: a usage error must not get as far as reading it, nor create anything
    const dir = tempDir();
    const run = (args: string[]) => runCli([...args, "--config", join(dir, "missing.toml")], { cwd: dir });

    test("a missing flag or argument is named", async () => {
      const r = await run(["token", "create", "--project", "p"]);
      expectUsageError(r, "token create", "missing --name");
      expect(r.stderr.split("\n")[0]).toBe("error: token create: missing --name");
      expect(r.stderr.split("\n")[1]).toBe("usage: hubgate token create --project PROJECT --name NAME [--scope SCOPE]... [--env live|test] [--expires DURATION] [--config PATH]");
      expectUsageError(await run(["token", "create"]), "token create", "missing --project, --name");
      expectUsageError(await run(["token", "revoke"]), "token revoke", "missing ID");
      expectUsageError(await run(["connect"]), "connect", "missing NAME");
      expectUsageError(await run(["disconnect"]), "disconnect", "missing NAME");
      expectUsageError(await run(["logs", "--project"]), "logs", "--project needs a value (--project PROJECT)");
      expectUsageError(await run(["logs", "--limit", "--json"]), "logs", "--limit needs a value");
    });

    test("an unknown command, sub-command or flag gets did-you-mean", async () => {
      const cmd = await run(["tokn", "list"]);
      expect(cmd.code).toBe(2);
      expect(cmd.stderr).toStartWith('error: unknown command "tokn" (did you mean "token"?)\nusage: hubgate <command> [flags]\n');
      expect((await runCli(["frobnicate"])).stderr).toStartWith('error: unknown command "frobnicate"\n');
      const help = await runCli(["help", "tokn"]);
      expect(help.code).toBe(2);
      expect(help.stderr).toStartWith('error: help: unknown command "tokn" (did you mean "token"?)\nusage: hubgate help [COMMAND] [SUBCOMMAND]');
      expectUsageError(await run(["token", "crate"]), "token", 'unknown subcommand "crate" (did you mean "create"?)');
      expectUsageError(await runCli(["token"]), "token", "missing subcommand (create, list, revoke)");
      expectUsageError(await run(["token", "--project", "p"]), "token", "expected a subcommand (create, list, revoke) before --project");
      expectUsageError(await run(["logs", "--limt", "5"]), "logs", 'unknown flag --limt (did you mean "--limit"?)');
      expectUsageError(await run(["audit", "-x"]), "audit", "unknown flag -x");
      const top = await runCli(["--config", "x", "token", "list"]);
      expect(top.code).toBe(2);
      expect(top.stderr).toStartWith("error: unknown flag --config: flags go after the command\n");
    });

    test("logs and audit validate --limit, --since and --kind", async () => {
      const abc = await run(["logs", "--limit", "abc"]);
      expectUsageError(abc, "logs", '--limit: expected a whole number from 1 to 1000, got "abc"');
      expect(abc.stderr).not.toContain("no such column");
      expectUsageError(await run(["logs", "--limit", "0"]), "logs", '--limit: expected a whole number from 1 to 1000, got "0"');
      expectUsageError(await run(["logs", "--limit=-3"]), "logs", '--limit: expected a whole number from 1 to 1000, got "-3"');
      expectUsageError(await run(["audit", "--limit", "1001"]), "audit", '--limit: expected a whole number from 1 to 1000, got "1001"');
      expectUsageError(await run(["audit", "--limit", "2.5"]), "audit", "--limit: expected a whole number");
      expectUsageError(await run(["logs", "--since", "yesterday"]), "logs", '--since: expected a duration like 90s, 15m, 12h or 30d, got "yesterday"');
      expectUsageError(await run(["audit", "--since", "0s"]), "audit", "--since: expected a duration greater than zero");
      expectUsageError(await run(["audit", "--kind", "token.create"]), "audit", '--kind: unknown audit kind "token.create" (did you mean "token.created"?)');
      expectUsageError(await run(["audit", "--kind", "nothing-like-it"]), "audit", /--kind: unknown audit kind "nothing-like-it"$/);
      expectUsageError(await run(["logs", "--follow=yes"]), "logs", "--follow takes no value");
    });

    test("token create validates --scope, --env, --expires; a flag given twice is refused", async () => {
      const base = ["token", "create", "--project", "web", "--name", "x"];
      expectUsageError(await run([...base, "--scope", "proxi"]), "token create", '--scope: expected one of proxy, github:read, github:write, admin, got "proxi" (did you mean "proxy"?)');
      expectUsageError(await run([...base, "--env", "prod"]), "token create", '--env: expected one of live, test, got "prod"');
      expectUsageError(await run([...base, "--expires", "soon"]), "token create", '--expires: expected a duration like 90s, 15m, 12h or 30d, got "soon"');
      expectUsageError(await run([...base, "--name", "y"]), "token create", "--name given more than once");
      expectUsageError(await run(["token", "create", "--project", "web", "--name", "a/b"]), "token create", '--name: expected 1–64 letters, digits, spaces or . _ : @ -, got "a/b"');
    });

    test("extra arguments are refused", async () => {
      expectUsageError(await run(["token", "revoke", "a", "b"]), "token revoke", 'unexpected argument "b"');
      expectUsageError(await run(["connections", "a", "b"]), "connections", 'unexpected argument "b"');
      expectUsageError(await run(["check", "extra"]), "check", 'unexpected argument "extra"');
    });

    test("none of them opened the config or created a store", () => {
      expect(existsSync(join(dir, "data"))).toBe(false);
    });
  });

  describe("failures exit 1 with one error line", () => {
    test("a name the config or store does not know: exit 1, did-you-mean for connections and projects", async () => {
      for (const args of [["connect", "githb"], ["disconnect", "githb"], ["connections", "githb"]]) {
        const r = await cli(args);
        expect(r.code).toBe(1);
        expect(r.stderr).toContain(`error: ${args[0]}: No OAuth connection named "githb" (did you mean "github"?) [connection_not_found]\n`);
        expect(r.stdout).toBe("");
      }
      const p = await cli(["token", "create", "--project", "wbe", "--name", "x"]);
      expect(p.code).toBe(1);
      expect(p.stderr).toContain('error: token create: No project "wbe" in the configuration (did you mean "web"?) [project_not_found]');
      const t = await cli(["token", "revoke", "no-such-id"]);
      expect(t.code).toBe(1);
      expect(t.stderr).toContain("error: token revoke: No token no-such-id [token_not_found]");
    });

    test("no doubled prefix: each error names its command once", async () => {
      const rs = await Promise.all([
        runCli(["token"]),
        cli(["token", "revoke", "nope"]),
        cli(["connect", "nope"]),
        runCli(["check", "--config", "/nonexistent/gateway.toml"]),
        runCli(["logs", "--limit", "x"]),
      ]);
      for (const r of rs) {
        expect(r.code).toBeGreaterThan(0);
        for (const line of r.stderr.split("\n").filter((l) => l.startsWith("error: "))) expect(line).not.toMatch(/^error: (?:hubgate )?([\w-]+(?: [\w-]+)?): (?:hubgate )?\1\b/);
        expect(r.stderr).not.toContain("hubgate token: token:");
      }
      expect(rs[3]!.code).toBe(1);
      expect(rs[3]!.stderr).toStartWith("error: check: ");
    });
  });

  describe("output", () => {
    test("token list: aligned columns under a header; --json is one token object per line", async () => {
      const created = await cli(["token", "create", "--project", "web", "--name", "ci", "--expires", "30d"]);
      expect(created.code).toBe(0);
      expect(created.stdout).toMatch(/^hg_live_\S+\n$/);
      const list = await cli(["token", "list"]);
      expect(list.code).toBe(0);
      expect(list.stdout).toMatch(/^ID +PROJECT +NAME +HINT +SCOPES +EXPIRES +REVOKED +LAST USED\n/);
      expectAligned(list.stdout);
      const json = await cli(["token", "list", "--json"]);
      const rows = json.stdout.trim().split("\n").map((l) => JSON.parse(l) as { project: string; name: string; scopes: string[] });
      expect(rows).toContainEqual(expect.objectContaining({ project: "web", name: "ci", scopes: ["proxy"] }));
      expect(json.stdout).not.toContain(created.stdout.trim());
    });

    test("logs: aligned columns under a header, --limit and --since honoured; --json is one request per line", async () => {
      const r = await cli(["logs", "--limit", "2"]);
      expect(r.code).toBe(0);
      const lines = r.stdout.trimEnd().split("\n");
      expect(lines[0]).toMatch(/^TIME +ENDPOINT +METHOD +PATH +STATUS +DURATION +BYTES +TOKEN +ERROR$/);
      expect(lines).toHaveLength(3);
      expect(lines[1]).toMatch(/ web\/api +GET +\/two +200 /);
      expect(lines[2]).toMatch(/ web\/api +GET +\/three +200 /);
      expectAligned(r.stdout);
      const json = await cli(["logs", "--json", "--since", "1h"]);
      const rows = json.stdout.trim().split("\n").map((l) => JSON.parse(l) as { path: string; status: number; project: string });
      expect(rows.map((x) => x.path)).toEqual(["/one", "/two", "/three"]);
      expect(rows.every((x) => x.status === 200 && x.project === "web")).toBe(true);
    });

    test("audit: aligned columns under a header, --kind filters; --json is one event per line", async () => {
      await cli(["token", "create", "--project", "web", "--name", "audited"]);
      const r = await cli(["audit"]);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^TIME +KIND +ACTOR +SUBJECT +DETAIL\n/);
      expect(r.stdout).toMatch(/ token\.created +cli +\S+ +\{"project":"web","name":"audited","scopes":\["proxy"\]\}$/m);
      expectAligned(r.stdout);
      const json = await cli(["audit", "--json", "--kind", "token.created", "--since", "1h"]);
      const events = json.stdout.trim().split("\n").map((l) => JSON.parse(l) as { kind: string; actor: string });
      expect(events.length).toBeGreaterThan(0);
      expect(events.every((e) => e.kind === "token.created" && e.actor === "cli")).toBe(true);
    });

    test("connections: a header row, NAME narrows it; --json is one connection per line", async () => {
      const r = await cli(["connections"]);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^NAME +PRESET +STATUS +EXPIRES +SCOPES +LAST REFRESH +ERROR\ngithub +github +not_connected +- /);
      expectAligned(r.stdout);
      const one = await cli(["connections", "github", "--json"]);
      expect(one.stdout.trim().split("\n").map((l) => JSON.parse(l) as unknown)).toEqual([{ name: "github", preset: "github", status: "not_connected" }]);
    });

    test("no JSON log line in any management command's output; the config warning is plain text on stderr", async () => {
      const rs = await Promise.all([
        cli(["token", "list"]),
        cli(["logs"]),
        cli(["audit"]),
        cli(["connections"]),
        cli(["connect", "github"]),
        cli(["disconnect", "github"]),
        cli(["rekey"]),
        cli(["token", "revoke", "nope"]),
      ]);
      for (const r of rs) {
        expectNoLogLines(r);
        expect(r.stderr).toContain("warning: config holds a literal secret; prefer an env:, file:, k8s:, aws: or gcp: reference (key: oauth_connections[0].client_secret)\n");
        expect(r.stderr).not.toContain("literal-client-secret-for-tests");
      }
      expect(rs[4]!.stdout).toMatch(/^http\S+\/oauth\/connect\/\S+\n$/);
      expect(rs[5]!.stdout).toBe("github: was not connected\n");
      expect(rs[6]!.stdout).toMatch(/^rekey: \d+ of \d+ sealed value\(s\) re-sealed with key \S+\n$/);
    });

    test("with [logging] format = \"text\" the warnings are still plain `warning:` lines", async () => {
      const text = writeConfig(`[logging]\nformat = "text"\n[storage]\npath = "${join(gw.dir, "hubgate.db")}"\n${body}`);
      const r = await runCli(["token", "list", "--config", text.path]);
      expect(r.code).toBe(0);
      expectNoLogLines(r);
      expect(r.stderr).toContain("warning: config holds a literal secret");
      expect(r.stderr).not.toMatch(/\bWARN\b/);
    });
  });
});
