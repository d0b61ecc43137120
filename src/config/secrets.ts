/**
 * Finds every secret-reference key in a validated config (keys whose schema is marked SECRET) and
 * resolves them all, so a config either comes with every secret or fails naming each reference
 * that could not be resolved — never printing a value.
 */
import type { TSchema } from "@sinclair/typebox";
import { SECRET } from "./types.ts";
import { ConfigSchema, type Config } from "./schema.ts";
import { tomlPath, type ConfigIssue } from "./validate.ts";
import { ConfigError } from "./load.ts";
import { isGatewayError } from "../core/errors.ts";

export interface SecretSlot {
  /** TOML path of the key, e.g. `github.identities[0].token` */
  path: string;
  ref: string;
}

/** Resolved secret values by TOML path. */
export type SecretValues = ReadonlyMap<string, string>;

export interface SecretResolverLike {
  resolve(ref: string): Promise<string>;
  isLiteral(ref: string): boolean;
}

export function collectSecretRefs(schema: TSchema, value: unknown, pointer = ""): SecretSlot[] {
  const s = schema as Record<string, unknown>;
  if (value === undefined || value === null) return [];
  if (s[SECRET] && typeof value === "string") return [{ path: tomlPath(pointer), ref: value }];
  const out: SecretSlot[] = [];
  const esc = (k: string) => k.replace(/~/g, "~0").replace(/\//g, "~1");
  if (Array.isArray(value) && s.items) {
    value.forEach((v, i) => out.push(...collectSecretRefs(s.items as TSchema, v, `${pointer}/${i}`)));
  } else if (typeof value === "object") {
    const props = (s.properties ?? {}) as Record<string, TSchema>;
    const pattern = s.patternProperties ? (Object.values(s.patternProperties as Record<string, TSchema>)[0] ?? null) : null;
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      const child = props[k] ?? pattern;
      if (child) out.push(...collectSecretRefs(child, v, `${pointer}/${esc(k)}`));
    }
  }
  return out;
}

/** Resolve every secret reference of the config in parallel; throws ConfigError listing each failure. */
export async function resolveConfigSecrets(
  config: Config,
  resolver: SecretResolverLike,
): Promise<{ values: SecretValues; literalPaths: string[] }> {
  const slots = collectSecretRefs(ConfigSchema, config);
  const values = new Map<string, string>();
  const issues: ConfigIssue[] = [];
  const literalPaths: string[] = [];
  await Promise.all(
    slots.map(async (slot) => {
      if (resolver.isLiteral(slot.ref)) literalPaths.push(slot.path);
      try {
        values.set(slot.path, await resolver.resolve(slot.ref));
      } catch (e) {
        const message = isGatewayError(e) ? e.message : "secret could not be resolved";
        issues.push({ path: slot.path, message });
      }
    }),
  );
  if (issues.length) throw new ConfigError(issues.sort((a, b) => a.path.localeCompare(b.path)));
  return { values, literalPaths: literalPaths.sort() };
}
