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

/**
 * Which secret slots (TOML paths) to resolve. `serve`, `check` and reloads resolve every one; a
 * management command only those it uses, so a secret of the server's environment that the operator's
 * shell lacks (an OAuth client secret, a GitHub token) does not fail `hubgate token list`.
 */
export type SecretFilter = (path: string, config: Config) => boolean;

/** The store's URL (PostgreSQL), the app key and the previous app keys: every command that opens the store needs them. */
export const storeSecrets: SecretFilter = (path) => path === "storage.url" || path === "storage.app_key" || path.startsWith("storage.previous_app_keys[");

/** The store's keys and the client secret of one OAuth connection (to revoke its grant at the provider). */
export const connectionSecrets =
  (name: string): SecretFilter =>
  (path, config) =>
    storeSecrets(path, config) || path === `oauth_connections[${config.oauth_connections.findIndex((c) => c.name === name)}].client_secret`;

/**
 * Resolve the secret references of the config (all, or those `want` selects) in parallel; throws
 * ConfigError listing each failure. Slots left out are listed in `skipped`, never resolved.
 */
export async function resolveConfigSecrets(
  config: Config,
  resolver: SecretResolverLike,
  want?: SecretFilter,
): Promise<{ values: SecretValues; literalPaths: string[]; skipped: ReadonlySet<string> }> {
  const all = collectSecretRefs(ConfigSchema, config);
  const slots = want ? all.filter((s) => want(s.path, config)) : all;
  const skipped = new Set(all.filter((s) => !slots.includes(s)).map((s) => s.path));
  const values = new Map<string, string>();
  const issues: ConfigIssue[] = [];
  // a literal is in the file whichever command reads it: every slot is looked at, resolved or not
  const literalPaths = all.filter((slot) => resolver.isLiteral(slot.ref)).map((slot) => slot.path);
  await Promise.all(
    slots.map(async (slot) => {
      try {
        values.set(slot.path, await resolver.resolve(slot.ref));
      } catch (e) {
        const message = isGatewayError(e) ? e.message : "secret could not be resolved";
        issues.push({ path: slot.path, message });
      }
    }),
  );
  if (issues.length) throw new ConfigError(issues.sort((a, b) => a.path.localeCompare(b.path)));
  return { values, literalPaths: literalPaths.sort(), skipped };
}
