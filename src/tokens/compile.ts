/** Compiles [[projects.tokens]] (tokens declared in config as secret references) into a hash → token map. */
import type { Config } from "../config/schema.ts";
import type { SecretValues } from "../config/secrets.ts";
import { checkApiTokenFormat, hashApiToken } from "../crypto/apitoken.ts";
import { ConfigError } from "../config/load.ts";

/** A token declared in [[projects.tokens]], compiled into the route table by hash. */
export interface ConfigToken {
  id: string;
  project: string;
  name: string;
  scopes: readonly string[];
}

export function compileConfigTokens(config: Config, secrets: SecretValues, skipped: ReadonlySet<string> = new Set()): Map<string, ConfigToken> {
  const out = new Map<string, ConfigToken>();
  config.projects.forEach((p, i) =>
    p.tokens.forEach((t, j) => {
      const path = `projects[${i}].tokens[${j}].token`;
      const value = secrets.get(path);
      if (value === undefined && skipped.has(path)) return; // a management command, which verifies no token
      // the format is checked here, at compile time, so a malformed declared token fails the load with its key path
      if (value === undefined || !checkApiTokenFormat(value))
        throw new ConfigError([{ path, message: "not a hubgate API token (expected hg_live_… or hg_test_… with a valid checksum)" }]);
      out.set(hashApiToken(value), Object.freeze({ id: `config:${p.id}/${t.name}`, project: p.id, name: t.name, scopes: Object.freeze([...t.scopes]) }));
    }),
  );
  return out;
}
