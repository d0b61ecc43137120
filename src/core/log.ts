/**
 * Structured JSON logs, one object per line on stdout. Every record goes through the one redaction rule
 * (redact.ts), so a careless call site cannot leak a credential into the log.
 */
import { redact, redactString } from "./redact.ts";

export type LogLevel = "debug" | "info" | "warn" | "error";
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type LogSink = (line: string) => void;
const stdoutSink: LogSink = (line) => {
  process.stdout.write(line + "\n");
};

export class Logger {
  constructor(
    private level: LogLevel = "info",
    private readonly fields: Record<string, unknown> = {},
    private readonly sink: LogSink = stdoutSink,
  ) {}

  child(fields: Record<string, unknown>): Logger {
    return new Logger(this.level, { ...this.fields, ...fields }, this.sink);
  }
  setLevel(level: LogLevel): void {
    this.level = level;
  }
  enabled(level: LogLevel): boolean {
    return ORDER[level] >= ORDER[this.level];
  }
  log(level: LogLevel, msg: string, fields?: Record<string, unknown>): void {
    if (!this.enabled(level)) return;
    const rest = redact({ ...this.fields, ...fields }) as Record<string, unknown>;
    this.sink(JSON.stringify({ ts: new Date().toISOString(), level, msg: redactString(msg), ...rest }));
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

/** A logger that keeps its lines in memory: for tests that assert what was (not) logged. */
export function memoryLogger(level: LogLevel = "debug"): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  return { log: new Logger(level, {}, (l) => lines.push(l)), lines };
}
