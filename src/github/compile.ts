/** [github] + resolved secrets → the pool's part of the route table. Pure. */
import type { Config } from "../config/schema.ts";
import type { SecretValues } from "../config/secrets.ts";
import { durationMs } from "../config/types.ts";
import { OwnerPolicy } from "./owners.ts";
import type { IdentitySpec } from "./identities.ts";
import { globToRegExp } from "../core/glob.ts";

export interface GithubRoute {
  enabled: boolean;
  /** upstream REST base without trailing slash, e.g. https://api.github.com or https://ghe/api/v3 */
  apiUrl: string;
  graphqlUrl: string;
  /** github.com layout prefix without trailing slash ("" for /) */
  mount: string;
  allowPrivate: boolean;
  owners: OwnerPolicy;
  clients: "open" | "token";
  identities: IdentitySpec[];
  ttlFor(path: string): number;
  maxConcurrency: number;
  queueTimeoutMs: number;
  requestTimeoutMs: number;
  cacheMaxBytes: number;
}

export function compileGithub(config: Config, secrets: SecretValues): GithubRoute {
  const g = config.github;
  const apiUrl = g.api_url.replace(/\/+$/, "");
  const graphqlUrl = /\/api\/v3$/.test(apiUrl) ? apiUrl.replace(/\/api\/v3$/, "/api/graphql") : `${apiUrl}/graphql`;
  const rules = g.cache_rules.map((r) => ({ re: globToRegExp(r.pattern), ms: durationMs(r.ttl) }));
  const defaultTtl = durationMs(g.cache_default_ttl);
  const identities: IdentitySpec[] = g.identities.map((idn, i) => {
    const at = `github.identities[${i}]`;
    if (idn.token !== undefined) return { id: idn.id, kind: "pat", token: secrets.get(`${at}.token`) ?? "" };
    return { id: idn.id, kind: "app", appId: idn.app_id!, installationId: idn.installation_id!, privateKey: secrets.get(`${at}.private_key`) ?? "" };
  });
  return {
    enabled: g.enabled,
    apiUrl,
    graphqlUrl,
    mount: g.mount.replace(/\/+$/, ""),
    allowPrivate: g.allow_private,
    owners: new OwnerPolicy(g.allowed_owners),
    clients: g.clients,
    identities,
    ttlFor: (path) => rules.find((r) => r.re.test(path))?.ms ?? defaultTtl,
    maxConcurrency: g.max_concurrency,
    queueTimeoutMs: durationMs(g.queue_timeout),
    requestTimeoutMs: durationMs(g.request_timeout),
    cacheMaxBytes: g.cache_max_bytes,
  };
}
