/**
 * The command-line conventions, in one place: commands and sub-commands declare their flags, arguments
 * and examples; from that come `--help` / `hubgate help <command>`, the usage line, and usage errors.
 *
 * Exit status: 0 success; 1 the command ran and failed (configuration, store, a name the config does
 * not know, …); 2 the command line itself is wrong — unknown command, sub-command or flag, a missing
 * flag or argument, a flag value of the wrong form — decided before the config or the store is opened.
 * Errors are one `error: <command>: <message>` line on stderr; a usage error adds the usage line.
 */
import { parseArgs } from "node:util";
import { ConfigError, formatIssues } from "../config/index.ts";
import { isGatewayError } from "../core/errors.ts";
import { didYouMean } from "../core/suggest.ts";

export type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

export interface Flag {
  type: "string" | "boolean";
  short?: string;
  /** may be given more than once (values collect in an array) */
  multiple?: boolean;
  /** the value's placeholder in usage and help: N, DURATION, … */
  arg?: string;
  help: string;
  required?: boolean;
  /** why `value` is not acceptable (a usage error), or undefined when it is */
  check?: (value: string) => string | undefined;
}

export interface Arg {
  name: string;
  help: string;
  optional?: boolean;
}

/** A command that runs (`check`, `token create`). */
export interface Leaf {
  /** one line, for the command list */
  summary: string;
  /** more about it, for its help */
  description?: string;
  flags: Record<string, Flag>;
  args?: Arg[];
  examples?: string[];
  /** further help sections (the audit kinds, …) */
  more?: () => string;
  run(values: Values, args: string[]): Promise<number>;
}

/** A command made of sub-commands (`token create|list|revoke`). */
export interface Group {
  summary: string;
  description?: string;
  subcommands: Record<string, Leaf>;
  examples?: string[];
}

export type Command = Leaf | Group;

export const isGroup = (c: Command): c is Group => "subcommands" in c;

/** The command line is wrong: exit 2 with the message and the usage line. Commands may throw it too. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

const HELP_FLAG: Flag = { type: "boolean", short: "h", help: "show this help" };

const own = <T>(rec: Record<string, T>, key: string): T | undefined => (Object.hasOwn(rec, key) ? rec[key] : undefined);

// ---------------------------------------------------------------------------------------------------
// usage lines and help text

function flagSyntax(name: string, f: Flag): string {
  return f.type === "boolean" ? `--${name}` : `--${name} ${f.arg ?? "VALUE"}`;
}

/** `hubgate token create --project P --name NAME [--scope SCOPE]... [-c PATH]` */
export function usageLine(path: string, leaf: Leaf): string {
  const parts = [`hubgate ${path}`];
  const flags = Object.entries(leaf.flags);
  for (const [n, f] of flags) if (f.required) parts.push(flagSyntax(n, f) + (f.multiple ? "..." : ""));
  for (const a of leaf.args ?? []) parts.push(a.optional ? `[${a.name}]` : a.name);
  for (const [n, f] of flags) if (!f.required) parts.push(`[${flagSyntax(n, f)}]${f.multiple ? "..." : ""}`);
  return parts.join(" ");
}

export function groupUsageLine(path: string, group: Group): string {
  return `hubgate ${path} <${Object.keys(group.subcommands).join("|")}> [flags]`;
}

function columns(rows: [string, string][], indent = "  "): string {
  const w = Math.max(...rows.map(([a]) => a.length));
  return rows.map(([a, b]) => `${indent}${a.padEnd(w)}   ${b}`.trimEnd()).join("\n");
}

function sentence(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1) + (/[.!?]$/.test(s) ? "" : ".");
}

export function leafHelp(path: string, leaf: Leaf): string {
  const parts = [sentence(leaf.summary) + (leaf.description ? `\n\n${leaf.description}` : ""), `Usage:\n  ${usageLine(path, leaf)}`];
  if (leaf.args?.length) parts.push(`Arguments:\n${columns(leaf.args.map((a) => [a.name, a.help + (a.optional ? " (optional)" : "")]))}`);
  const flags = Object.entries({ ...leaf.flags, help: HELP_FLAG }).map(([n, f]): [string, string] => [
    `${f.short ? `-${f.short}, ` : "    "}${flagSyntax(n, f)}`,
    f.help + (f.required ? " (required)" : "") + (f.multiple ? " (repeatable)" : ""),
  ]);
  parts.push(`Flags:\n${columns(flags)}`);
  if (leaf.examples?.length) parts.push(`Examples:\n${leaf.examples.map((e) => `  ${e}`).join("\n")}`);
  const more = leaf.more?.();
  if (more) parts.push(more);
  return `${parts.join("\n\n")}\n`;
}

export function groupHelp(path: string, group: Group): string {
  const parts = [sentence(group.summary) + (group.description ? `\n\n${group.description}` : ""), `Usage:\n  ${groupUsageLine(path, group)}`];
  parts.push(`Subcommands:\n${columns(Object.entries(group.subcommands).map(([n, s]) => [n, s.summary]))}`);
  if (group.examples?.length) parts.push(`Examples:\n${group.examples.map((e) => `  ${e}`).join("\n")}`);
  parts.push(`Run 'hubgate ${path} <subcommand> --help' for its flags.`);
  return `${parts.join("\n\n")}\n`;
}

export function commandList(commands: Record<string, Command>): string {
  return columns(Object.entries(commands).map(([n, c]) => [n, c.summary]));
}

// ---------------------------------------------------------------------------------------------------
// parsing

/** Parse a leaf's flags and arguments; `"help"` when --help / -h is among them (help wins over errors). */
export function parseLeaf(leaf: Leaf, argv: string[]): "help" | { values: Values; args: string[] } {
  const flags: Record<string, Flag> = { ...leaf.flags, help: HELP_FLAG };
  const options = Object.fromEntries(
    Object.entries(flags).map(([n, f]) => [n, { type: f.type, multiple: f.multiple ?? false, ...(f.short ? { short: f.short } : {}) }]),
  );
  // not strict: unknown flags and missing values are reported below, in our words
  const { values, positionals, tokens } = parseArgs({ args: argv, options, strict: false, allowPositionals: true, tokens: true });
  if (tokens.some((t) => t.kind === "option" && t.name === "help")) return "help";
  const seen = new Set<string>();
  for (const t of tokens) {
    if (t.kind !== "option") continue;
    const f = own(leaf.flags, t.name);
    if (!f) {
      const hint = t.rawName.startsWith("--") ? didYouMean(t.rawName, Object.keys(leaf.flags).map((n) => `--${n}`)) : "";
      throw new UsageError(`unknown flag ${t.rawName}${hint}`);
    }
    const name = `--${t.name}`;
    if (f.type === "boolean") {
      if (t.inlineValue) throw new UsageError(`${name} takes no value`);
      continue;
    }
    // `--limit --json` takes the next flag as the value: a value starting with "-" must be written --limit=-1
    if (t.value === undefined || t.value === "" || (!t.inlineValue && t.value.startsWith("-")))
      throw new UsageError(`${name} needs a value (${name} ${f.arg ?? "VALUE"})`);
    if (!f.multiple && seen.has(t.name)) throw new UsageError(`${name} given more than once`);
    seen.add(t.name);
    const why = f.check?.(t.value);
    if (why) throw new UsageError(`${name}: ${why}`);
  }
  const missing = Object.entries(leaf.flags)
    .filter(([n, f]) => f.required && values[n] === undefined)
    .map(([n]) => `--${n}`);
  if (missing.length) throw new UsageError(`missing ${missing.join(", ")}`);
  const specs = leaf.args ?? [];
  if (positionals.length > specs.length) throw new UsageError(`unexpected argument "${positionals[specs.length]}"`);
  const absent = specs.slice(positionals.length).filter((a) => !a.optional);
  if (absent.length) throw new UsageError(`missing ${absent.map((a) => a.name).join(", ")}`);
  return { values, args: positionals };
}

// ---------------------------------------------------------------------------------------------------
// flag value checks

export function positiveInt(max: number): (v: string) => string | undefined {
  return (v) => (/^\d+$/.test(v) && Number(v) >= 1 && Number(v) <= max ? undefined : `expected a whole number from 1 to ${max}, got "${v}"`);
}

export function oneOf(choices: readonly string[]): (v: string) => string | undefined {
  return (v) => (choices.includes(v) ? undefined : `expected one of ${choices.join(", ")}, got "${v}"${didYouMean(v, choices)}`);
}

// ---------------------------------------------------------------------------------------------------
// running

const write = (s: string) => process.stderr.write(s);

function usageError(path: string, message: string, usage: string): number {
  write(`error: ${path ? `${path}: ` : ""}${message}\nusage: ${usage}\nRun 'hubgate ${path ? `${path} ` : ""}--help' for more.\n`);
  return 2;
}

/** A failure while running: one `error:` line (a config error adds its issues, one per line); exit 1. */
export function runtimeError(path: string, e: unknown): number {
  if (e instanceof ConfigError) write(`error: ${path}: invalid configuration (${e.issues.length} error(s)):\n${formatIssues(e.issues)}\n`);
  else if (isGatewayError(e)) write(`error: ${path}: ${e.message} [${e.code}]\n`);
  else write(`error: ${path}: ${e instanceof Error ? e.message : String(e)}\n`);
  return 1;
}

async function runLeaf(path: string, leaf: Leaf, argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parseLeaf>;
  try {
    parsed = parseLeaf(leaf, argv);
  } catch (e) {
    if (e instanceof UsageError) return usageError(path, e.message, usageLine(path, leaf));
    throw e;
  }
  if (parsed === "help") {
    process.stdout.write(leafHelp(path, leaf));
    return 0;
  }
  try {
    return await leaf.run(parsed.values, parsed.args);
  } catch (e) {
    if (e instanceof UsageError) return usageError(path, e.message, usageLine(path, leaf));
    return runtimeError(path, e);
  }
}

const isHelp = (a: string | undefined) => a === "--help" || a === "-h";

/** Where `names` lead: a command, a group's sub-command, or a usage error (its message and usage line). */
export function resolve(
  commands: Record<string, Command>,
  names: string[],
): { path: string; command: Command; rest: string[] } | { error: string; usage: string; path: string } {
  const [name, ...rest] = names;
  const command = name === undefined ? undefined : own(commands, name);
  if (name === undefined || command === undefined)
    return { path: "", usage: "hubgate <command> [flags]", error: name === undefined ? "missing command" : `unknown command "${name}"${didYouMean(name, Object.keys(commands))}` };
  if (!isGroup(command)) return { path: name, command, rest };
  const [sub, ...after] = rest;
  if (sub === undefined || isHelp(sub)) return { path: name, command, rest };
  const leaf = own(command.subcommands, sub);
  const subs = Object.keys(command.subcommands);
  if (!leaf) {
    const what = sub.startsWith("-") ? `expected a subcommand (${subs.join(", ")}) before ${sub}` : `unknown subcommand "${sub}"${didYouMean(sub, subs)}`;
    return { path: name, usage: groupUsageLine(name, command), error: what };
  }
  return { path: `${name} ${sub}`, command: leaf, rest: after };
}

/** Run the command line `argv` (without the program name) against `commands`; the exit status. */
export async function runCommandLine(commands: Record<string, Command>, argv: string[], topHelp: () => string): Promise<number> {
  const [first] = argv;
  if (first === undefined || isHelp(first)) {
    process.stdout.write(topHelp());
    return 0;
  }
  if (first.startsWith("-")) return usageError("", `unknown flag ${first}: flags go after the command`, "hubgate <command> [flags]");
  const r = resolve(commands, argv);
  if ("error" in r) return usageError(r.path, r.error, r.usage);
  if (!isGroup(r.command)) return runLeaf(r.path, r.command, r.rest);
  const [sub] = r.rest;
  if (isHelp(sub)) {
    process.stdout.write(groupHelp(r.path, r.command));
    return 0;
  }
  return usageError(r.path, `missing subcommand (${Object.keys(r.command.subcommands).join(", ")})`, groupUsageLine(r.path, r.command));
}

/** `hubgate help [COMMAND [SUBCOMMAND]]`: the help text of what `names` lead to (a UsageError when they lead nowhere). */
export function helpFor(commands: Record<string, Command>, names: string[], topHelp: () => string): number {
  if (!names.length) {
    process.stdout.write(topHelp());
    return 0;
  }
  const r = resolve(commands, names);
  if ("error" in r) throw new UsageError(r.error);
  if (isGroup(r.command)) process.stdout.write(groupHelp(r.path, r.command));
  else process.stdout.write(leafHelp(r.path, r.command));
  return 0;
}
