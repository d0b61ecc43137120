/**
 * Building blocks for the TypeBox models of every config section. Feature folders compose these
 * into their own section schema (src/<feature>/model.ts); src/config/schema.ts assembles the whole.
 */
import { Type, type TSchema, type TString, type TUnion, type TNumber } from "@sinclair/typebox";

/** Schema annotation marking a string as a secret reference (env:, file:, k8s:, aws:, gcp: or literal). */
export const SECRET = "x-hubgate-secret";

/** A secret reference: resolved at startup/reload, never logged, never printed by `check`. */
export function SecretRef(description: string): TString {
  return Type.String({ minLength: 1, description, [SECRET]: true });
}

/** A duration: seconds as a number, or a string such as "500ms", "30s", "5m", "2h", "30d". */
export function Duration(description: string, dflt?: number | string): TUnion<[TNumber, TString]> {
  const opts: Record<string, unknown> = { description };
  if (dflt !== undefined) opts.default = dflt;
  return Type.Union([Type.Number({ minimum: 0 }), Type.String({ pattern: DURATION_PATTERN })], opts);
}

export const DURATION_PATTERN = "^\\s*\\d+(\\.\\d+)?\\s*(ms|s|m|h|d)?\\s*$";
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Milliseconds of a validated Duration value. */
export function durationMs(v: number | string): number {
  if (typeof v === "number") return Math.round(v * 1000);
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(v);
  if (!m) throw new Error(`invalid duration ${JSON.stringify(v)}`);
  return Math.round(Number(m[1]) * UNIT_MS[m[2] ?? "s"]!);
}

/** An object schema that rejects unknown keys (typo safety). */
export function Section<T extends Parameters<typeof Type.Object>[0]>(props: T, description: string, extra: Record<string, unknown> = {}) {
  return Type.Object(props, { additionalProperties: false, description, ...extra });
}

/** An absolute http(s) URL (checked by the semantic pass, which names the key on error). */
export const HttpUrl = (description: string, dflt?: string) =>
  Type.String({ minLength: 1, description, [URL_MARK]: true, ...(dflt === undefined ? {} : { default: dflt }) });
export const URL_MARK = "x-hubgate-url";

export type { TSchema };
