/**
 * Structured JSON logs, one object per line on stdout. Field names that can carry credentials are
 * redacted wherever they appear, and string values that look like bearer credentials are masked, so
 * a careless call site cannot leak a token into the log.
 */
export type LogLevel = "debug" | "info" | "warn" | "error";
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

const SENSITIVE_KEY = /(^|_|-)(token|secret|password|passwd|authorization|cookie|set-cookie|api[_-]?key|app[_-]?key|private[_-]?key|client[_-]?secret|refresh[_-]?token|access[_-]?token|code[_-]?verifier)$/i;
// credentials by shape: bearer values, GitHub tokens, hubgate tokens, JWTs
const SENSITIVE_VALUE =
  /\b(Bearer|Basic|token)\s+[A-Za-z0-9._~+\/=-]{8,}|\b(gh[pousr]|github_pat|hg_live|hg_test|hgat|hgrt)_[A-Za-z0-9_]{16,}|\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g;

export function redactString(s: string): string {
  return s.replace(SENSITIVE_VALUE, (m) => {
    const sp = m.indexOf(" ");
    return sp > 0 && sp < 8 ? `${m.slice(0, sp)} [redacted]` : "[redacted]";
  });
}

export function redact(value: unknown, depth = 0): unknown {
  if (depth > 6) return "[deep]";
  if (typeof value === "string") return redactString(value);
  if (value instanceof Error) {
    const out: Record<string, unknown> = { name: value.name, message: redactString(value.message) };
    const code = (value as { code?: unknown }).code;
    if (code !== undefined) out.code = code;
    return out;
  }
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = SENSITIVE_KEY.test(k) && v !== undefined && v !== null && v !== "" ? "[redacted]" : redact(v, depth + 1);
    }
    return out;
  }
  return value;
}

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
    const rec = redact({ ts: new Date().toISOString(), level, msg, ...this.fields, ...fields }) as Record<string, unknown>;
    this.sink(JSON.stringify(rec));
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
