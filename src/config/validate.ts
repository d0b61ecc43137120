/**
 * Validation of a parsed TOML document against the config model: defaults are applied, then every
 * schema error is reported with its TOML key path (`projects[0].endpoints[1].slug`) and what was
 * expected. Values of secret-reference keys are never echoed.
 */
import type { TSchema } from "@sinclair/typebox";
import { Value, type ValueError } from "@sinclair/typebox/value";
import { SECRET } from "./types.ts";
import { didYouMean } from "../core/suggest.ts";

export interface ConfigIssue {
  /** TOML key path, "" for the document itself */
  path: string;
  message: string;
}

/** A table key as written in a TOML dotted path: bare when it can be, quoted otherwise. */
export function tomlKey(key: string): string {
  return /^[A-Za-z0-9_-]+$/.test(key) ? key : JSON.stringify(key);
}

/** `/projects/0/endpoints/1/headers/X.Key` → `projects[0].endpoints[1].headers."X.Key"` */
export function tomlPath(pointer: string): string {
  if (pointer === "" || pointer === "/") return "";
  let out = "";
  for (const raw of pointer.slice(1).split("/")) {
    const seg = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (/^\d+$/.test(seg)) out += `[${seg}]`;
    else out += (out ? "." : "") + tomlKey(seg);
  }
  return out;
}

function typeName(v: unknown): string {
  if (Array.isArray(v)) return "an array";
  if (v === null) return "null";
  if (typeof v === "object") return "a table";
  return `a ${typeof v}`;
}

function shown(v: unknown, schema: TSchema): string {
  if ((schema as Record<string, unknown>)[SECRET]) return typeName(v);
  const s = JSON.stringify(v);
  return s !== undefined && s.length <= 60 ? s : typeName(v);
}

function expected(schema: TSchema): string | undefined {
  const s = schema as Record<string, unknown>;
  const anyOf = s.anyOf as TSchema[] | undefined;
  if (anyOf) {
    const consts = anyOf.map((x) => (x as Record<string, unknown>).const);
    if (consts.every((c) => c !== undefined)) return `one of ${consts.map((c) => JSON.stringify(c)).join(", ")}`;
    if (anyOf.some((x) => (x as Record<string, unknown>).pattern === undefined) && anyOf.some((x) => x.type === "number"))
      return `a duration: seconds as a number, or a string like "500ms", "30s", "5m", "2h", "30d"`;
  }
  if (s.pattern && typeof s.description === "string") return `${s.description} (matching ${s.pattern})`;
  return undefined;
}

function describe(e: ValueError): ConfigIssue {
  const path = tomlPath(e.path);
  const schema = e.schema;
  if (e.message === "Unexpected property") {
    const key = e.path.slice(e.path.lastIndexOf("/") + 1);
    return { path, message: `unknown key "${key}"${suggest(key, e)}` };
  }
  if (e.message === "Expected required property") return { path, message: "missing required key" };
  const exp = expected(schema);
  if (exp) return { path, message: `expected ${exp}, got ${shown(e.value, schema)}` };
  return { path, message: `${e.message.replace(/^Expected/, "expected")}, got ${shown(e.value, schema)}` };
}

/** An unknown-key error carries the parent table's schema, whose `properties` are the known keys. */
function suggest(key: string, e: ValueError): string {
  const props = (e.schema as { properties?: Record<string, unknown> }).properties;
  if (!props) return "";
  return didYouMean(key, Object.keys(props));
}

/** Apply defaults and validate; returns the typed value only when there is no issue. */
export function validateAgainst<T>(schema: TSchema, doc: unknown): { value?: T; issues: ConfigIssue[] } {
  const withDefaults = Value.Default(schema, structuredClone(doc));
  const issues: ConfigIssue[] = [];
  const seen = new Set<string>();
  for (const e of Value.Errors(schema, withDefaults)) {
    if (seen.has(e.path)) continue; // first (most specific) error per key only
    seen.add(e.path);
    issues.push(describe(e));
  }
  return issues.length ? { issues } : { value: withDefaults as T, issues };
}
