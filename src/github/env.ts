/**
 * GitHub settings that may also come from the environment: identities from
 * HUBGATE_GITHUB_PAT_<ID>=<token> (added as `env:` references, so they resolve like any secret) and
 * extra allowed owners from HUBGATE_ALLOWED_OWNERS (comma-separated). Config entries win on id clashes.
 */
import type { Config } from "../config/schema.ts";

const PAT_VAR = /^HUBGATE_GITHUB_PAT_([A-Za-z0-9_]+)$/;

export function applyGithubEnv(config: Config, env: Record<string, string | undefined>): Config {
  const ids = new Set(config.github.identities.map((i) => i.id));
  const extra = Object.keys(env)
    .sort()
    .flatMap((name) => {
      const m = PAT_VAR.exec(name);
      if (!m || !env[name]) return [];
      const id = m[1]!.toLowerCase().replace(/_/g, "-");
      return ids.has(id) ? [] : [{ id, token: `env:${name}` }];
    });
  const owners = (env.HUBGATE_ALLOWED_OWNERS ?? "")
    .split(",")
    .map((o) => o.trim())
    .filter(Boolean);
  if (!extra.length && !owners.length) return config;
  return {
    ...config,
    github: {
      ...config.github,
      identities: [...config.github.identities, ...extra],
      allowed_owners: [...new Set([...config.github.allowed_owners, ...owners])],
    },
  };
}
