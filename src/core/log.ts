/**
 * Logs on stdout, one record per line: JSON objects (for collectors) or human-readable text (for
 * terminals), `[logging] format`. Every record goes through the one redaction rule (redact.ts) first,
 * in both formats, so a careless call site cannot leak a credential into the log.
 */
import { redact, redactString } from "./redact.ts";

export type LogLevel = "debug" | "info" | "warn" | "error";
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** `json`: one JSON object a line; `text`: `<ts> <LEVEL> <msg> key=value …`; `auto`: text when the sink is a terminal, else JSON. */
export type LogFormat = "json" | "text";
export type LogFormatSetting = LogFormat | "auto";

export type LogSink = (line: string) => void;
export const stdoutSink: LogSink = (line) => {
  process.stdout.write(line + "\n");
};
export const stderrSink: LogSink = (line) => {
  process.stderr.write(line + "\n");
};

/** What `auto` means for a sink, decided once when the format is set: text on a terminal, JSON otherwise (files, pipes, collectors, tests). */
export function resolveFormat(setting: LogFormatSetting, sink: LogSink): LogFormat {
  if (setting !== "auto") return setting;
  const tty = sink === stdoutSink ? process.stdout.isTTY : sink === stderrSink ? process.stderr.isTTY : false;
  return tty ? "text" : "json";
}

const LEVEL_LABEL: Record<LogLevel, string> = { debug: "DEBUG", info: "INFO ", warn: "WARN ", error: "ERROR" };
/** A string value is quoted (JSON string syntax) when it is empty or holds a space, a quote, `=`, a backslash or a control character. */
const NEEDS_QUOTES = /^$|[\s"=\\\p{Cc}]/u;
/** Other values are written as JSON (`true`, `3`, `["repo","read:org"]`), quoted only when that holds a space. */
const JSON_NEEDS_QUOTES = /\s/;

function textValue(v: unknown): string {
  if (typeof v === "string") return NEEDS_QUOTES.test(v) ? JSON.stringify(v) : v;
  const s = JSON.stringify(v) ?? String(v);
  return JSON_NEEDS_QUOTES.test(s) ? JSON.stringify(s) : s;
}

/** `key=value` pairs; nested objects as dotted keys (`err.name=TypeError`), arrays as JSON. */
function textFields(rec: Record<string, unknown>, prefix: string, out: string[]): void {
  for (const [k, v] of Object.entries(rec)) {
    if (v === undefined) continue;
    if (v !== null && typeof v === "object" && !Array.isArray(v)) textFields(v as Record<string, unknown>, `${prefix}${k}.`, out);
    else out.push(`${prefix}${k}=${textValue(v)}`);
  }
}

/** One text line: `2026-12-02T04:00:00.000Z INFO  listening url=http://127.0.0.1:8080 port=8080` (a multi-line message continues indented). */
export function formatText(ts: string, level: LogLevel, msg: string, fields: Record<string, unknown>): string {
  const parts = [ts, LEVEL_LABEL[level], msg.replace(/\r?\n/g, "\n    ")];
  textFields(fields, "", parts);
  return parts.join(" ");
}

export class Logger {
  private format: LogFormat;
  /** a format the caller chose for its sink stays; "auto" follows `[logging] format` (setFormat) */
  private readonly fixed: boolean;
  /**
   * `format`: "auto" (the default) resolves for the sink now and follows `[logging] format` once the
   * gateway has read it; "json" or "text" is what this sink needs (a program reading the lines) and stays.
   */
  constructor(
    private level: LogLevel = "info",
    private readonly fields: Record<string, unknown> = {},
    private readonly sink: LogSink = stdoutSink,
    format: LogFormatSetting = "auto",
  ) {
    this.format = resolveFormat(format, sink);
    this.fixed = format !== "auto";
  }

  child(fields: Record<string, unknown>): Logger {
    const c = new Logger(this.level, { ...this.fields, ...fields }, this.sink, this.fixed ? this.format : "auto");
    c.format = this.format;
    return c;
  }
  setLevel(level: LogLevel): void {
    this.level = level;
  }
  /** The configured format (`[logging] format`), unless this logger's format was fixed at construction. */
  setFormat(format: LogFormatSetting): void {
    if (!this.fixed) this.format = resolveFormat(format, this.sink);
  }
  enabled(level: LogLevel): boolean {
    return ORDER[level] >= ORDER[this.level];
  }
  log(level: LogLevel, msg: string, fields?: Record<string, unknown>): void {
    if (!this.enabled(level)) return;
    const ts = new Date().toISOString();
    const rest = redact({ ...this.fields, ...fields }) as Record<string, unknown>;
    this.sink(this.format === "text" ? formatText(ts, level, redactString(msg), rest) : JSON.stringify({ ts, level, msg: redactString(msg), ...rest }));
  }
  debug(msg: string, fields?: Record<string, unknown>): void {
    this.log("debug", msg, fields);
  }
  info(msg: string, fields?: Record<string, unknown>): void {
    this.log("info", msg, fields);
  }
  warn(msg: string, fields?: Record<string, unknown>): void {
    this.log("warn", msg, fields);
  }
  error(msg: string, fields?: Record<string, unknown>): void {
    this.log("error", msg, fields);
  }
}

/** A logger that keeps its lines in memory: for tests that assert what was (not) logged (JSON unless configured or asked otherwise). */
export function memoryLogger(level: LogLevel = "debug", format: LogFormatSetting = "auto"): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  return { log: new Logger(level, {}, (l) => lines.push(l), format), lines };
}
