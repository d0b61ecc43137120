/**
 * What management commands print: aligned tables with a header row for people, JSON Lines (`--json`,
 * one object per line, the objects the admin API returns) for scripts, and the gateway's log as plain
 * `warning:` / `error:` lines on stderr — never a JSON log line in a command's output.
 */
import { Logger, type LogSink } from "../core/log.ts";

export const out = (s: string): void => {
  process.stdout.write(`${s}\n`);
};

/** One JSON object per line (JSON Lines): streams with --follow, and `jq` reads it as is. */
export function jsonLine(v: unknown): void {
  out(JSON.stringify(v));
}

/**
 * Columns padded to their widest cell, two spaces apart, under an upper-case header row. Rows printed
 * later (`logs --follow`) keep the widths seen so far, growing them when a cell is wider.
 */
export class Table {
  private readonly widths: number[];
  private printed = false;
  constructor(private readonly header: readonly string[]) {
    this.widths = header.map((h) => h.length);
  }

  private line(cells: readonly string[]): string {
    return cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(this.widths[i]!)))
      .join("  ")
      .trimEnd();
  }

  /** Print the header (first call only) and `rows`. */
  print(rows: readonly (readonly string[])[]): void {
    for (const r of rows) r.forEach((c, i) => (this.widths[i] = Math.max(this.widths[i] ?? 0, c.length)));
    if (!this.printed) out(this.line(this.header));
    this.printed = true;
    for (const r of rows) out(this.line(r));
  }
}

function plain(v: unknown): string {
  return typeof v === "string" ? v : JSON.stringify(v);
}

/**
 * The log sink of management commands: the gateway logs JSON; a person running a command needs only its
 * warnings and errors, as plain text on stderr (`warning: <msg> (key: value, …)`). Lines arrive already
 * redacted by the Logger.
 */
export const plainStderrSink: LogSink = (line) => {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(line) as Record<string, unknown>;
  } catch {
    process.stderr.write(`${line}\n`);
    return;
  }
  const { ts: _ts, level, msg, ...fields } = rec;
  if (level !== "warn" && level !== "error") return;
  const extra = Object.entries(fields).map(([k, v]) => `${k}: ${plain(v)}`);
  process.stderr.write(`${level === "warn" ? "warning" : "error"}: ${plain(msg)}${extra.length ? ` (${extra.join(", ")})` : ""}\n`);
};

/** The logger management commands give the gateway they open. */
export function cliLogger(): Logger {
  // JSON, fixed: the sink parses each line, whatever [logging] format says
  return new Logger("warn", {}, plainStderrSink, "json");
}
