/**
 * Reading and parsing gateway.toml: source selection (flag, HUBGATE_CONFIG, ./gateway.toml, else
 * the embedded example), TOML parsing, model validation and semantic checks. No secret is resolved
 * here and no runtime object is built: see secrets.ts and ../routes/compile.ts.
 */
import { existsSync, readFileSync } from "node:fs";
import { resolve as resolvePath } from "node:path";
import { parse, TomlError } from "smol-toml";
import exampleText from "../../gateway.example.toml" with { type: "text" };
import { ConfigSchema, type Config } from "./schema.ts";
import { validateAgainst, type ConfigIssue } from "./validate.ts";
import { checkSemantics } from "./semantics.ts";

export const DEFAULT_CONFIG_PATH = "./gateway.toml";
export const EMBEDDED_EXAMPLE: string = exampleText;

export interface ConfigSource {
  /** absolute path of the file, or null when the embedded example config is used */
  path: string | null;
  text: string;
}

/** `--config` wins, then HUBGATE_CONFIG, then ./gateway.toml; only an implicit default may fall back to the embedded example. */
export function locateConfig(flag: string | undefined, env: Record<string, string | undefined>): { path: string | null; explicit: boolean } {
  const chosen = flag ?? env.HUBGATE_CONFIG;
  if (chosen) return { path: resolvePath(chosen), explicit: true };
  const dflt = resolvePath(DEFAULT_CONFIG_PATH);
  return { path: existsSync(dflt) ? dflt : null, explicit: false };
}

export function readConfigSource(path: string | null): ConfigSource {
  if (path === null) return { path: null, text: EMBEDDED_EXAMPLE };
  try {
    return { path, text: readFileSync(path, "utf8") };
  } catch (e) {
    const code = (e as { code?: string }).code;
    throw new ConfigError([{ path: "", message: `cannot read ${path}: ${code === "ENOENT" ? "no such file" : code ?? "read error"}` }]);
  }
}

export class ConfigError extends Error {
  constructor(readonly issues: ConfigIssue[]) {
    super(`invalid configuration: ${issues.length} error(s)\n` + formatIssues(issues));
  }
}

export function formatIssues(issues: ConfigIssue[]): string {
  return issues.map((i) => `  ${i.path || "(document)"}: ${i.message}`).join("\n");
}

/** Parse + validate + semantic checks. Throws ConfigError carrying every issue found. */
export function parseConfig(text: string): Config {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e) {
    if (e instanceof TomlError) {
      // first line only: the code block smol-toml appends would echo the line, which may hold a secret
      const msg = e.message.split("\n")[0]!.replace(/^Invalid TOML document: /, "");
      throw new ConfigError([{ path: "", message: `TOML syntax error at line ${e.line}, column ${e.column}: ${msg}` }]);
    }
    throw e;
  }
  const { value, issues } = validateAgainst<Config>(ConfigSchema, doc);
  if (!value) throw new ConfigError(issues);
  const semantic = checkSemantics(value);
  if (semantic.length) throw new ConfigError(semantic);
  return value;
}
