/**
 * Management subcommands that work on the gateway's database directly (the same SQLite file the
 * server uses; WAL lets both write): tokens, OAuth connections, request logs and the audit log.
 */
import { Gateway } from "../server/gateway.ts";
import { Logger } from "../core/log.ts";
import { connectionSecrets, locateConfig, storeSecrets, type SecretFilter } from "../config/index.ts";
import { durationMs, DURATION_PATTERN } from "../config/types.ts";
import { createApiToken, revokeApiToken, SCOPES, tokenView } from "../tokens/service.ts";
import type { TokenEnv } from "../crypto/apitoken.ts";

type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;
const env = process.env as Record<string, string | undefined>;
const out = (s: string) => process.stdout.write(`${s}\n`);

/**
 * The gateway of a management command: the server's store (which must exist; no lock is taken, the
 * server may be running) and only the secrets the command uses — by default the store's keys.
 */
async function withGateway<T>(values: Values, fn: (gw: Gateway) => Promise<T>, secrets: SecretFilter = storeSecrets): Promise<T> {
  const path = locateConfig(typeof values.config === "string" ? values.config : undefined, env).path;
  // logs go to stderr: stdout carries only the command's output (a token, a URL, a table)
  const gw = await Gateway.start({ configPath: path, env, role: "manage", secrets, log: new Logger("warn", {}, (line) => process.stderr.write(`${line}\n`)) });
  try {
    return await fn(gw);
  } finally {
    await gw.close();
  }
}

const str = (v: Values[string]) => (typeof v === "string" ? v : undefined);
const strs = (v: Values[string]) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : typeof v === "string" ? [v] : []);
const when = (ms: number | null) => (ms === null ? "-" : new Date(ms).toISOString());

export async function tokenCommand(values: Values, positionals: string[]): Promise<number> {
  const [sub, arg] = positionals;
  return withGateway(values, async (gw) => {
    switch (sub) {
      case "create": {
        const project = str(values.project);
        const name = str(values.name);
        if (!project || !name) throw new Error("token create needs --project P --name N [--scope S …] [--env live|test] [--expires 30d]");
        const expires = str(values.expires);
        if (expires !== undefined && !new RegExp(DURATION_PATTERN).test(expires)) throw new Error(`--expires: not a duration (e.g. 30d, 12h): ${expires}`);
        const e = str(values.env) ?? "live";
        if (e !== "live" && e !== "test") throw new Error("--env must be live or test");
        const scopes = strs(values.scope);
        const { token, row } = createApiToken(gw, {
          project,
          name,
          scopes: scopes.length ? scopes : ["proxy"],
          env: e as TokenEnv,
          expiresInMs: expires === undefined ? undefined : durationMs(expires),
          actor: "cli",
        });
        out(token);
        process.stderr.write(`created token ${row.id} (${row.scopes.join(", ")}) for project ${row.project}; it is shown only this once\n`);
        return 0;
      }
      case "list": {
        const rows = gw.store.apiTokens.list(str(values.project)).map(tokenView);
        out(["ID", "PROJECT", "NAME", "HINT", "SCOPES", "EXPIRES", "REVOKED", "LAST USED"].join("\t"));
        for (const r of rows) out([r.id, r.project, r.name, r.hint, r.scopes.join(","), r.expires_at ?? "-", r.revoked_at ?? "-", r.last_used_at ?? "-"].join("\t"));
        return 0;
      }
      case "revoke": {
        if (!arg) throw new Error("token revoke needs a token id (see `hubgate token list`)");
        revokeApiToken(gw, arg, "cli");
        out(`revoked ${arg}`);
        return 0;
      }
      default:
        throw new Error(`token: expected create, list or revoke (scopes: ${SCOPES.join(", ")})`);
    }
  });
}

export async function connectCommand(values: Values, positionals: string[]): Promise<number> {
  const [name] = positionals;
  if (!name) throw new Error("connect needs a connection name (see `hubgate connections`)");
  return withGateway(values, async (gw) => {
    gw.assertServerKey("connect"); // the link's PKCE verifier is sealed for the server to open
    const { url, expiresAt } = await gw.oauth.startConnect(name, "cli");
    out(url);
    process.stderr.write(`open this URL in a browser within 10 minutes (until ${when(expiresAt)}); it works once, on the running gateway\n`);
    return 0;
  });
}

export async function connectionsCommand(values: Values): Promise<number> {
  return withGateway(values, async (gw) => {
    out(["NAME", "PRESET", "STATUS", "EXPIRES", "SCOPES", "LAST REFRESH", "ERROR"].join("\t"));
    for (const c of await gw.oauth.status())
      out([c.name, c.preset ?? "-", c.status, when(c.expiresAt ?? null), (c.scopes ?? []).join(",") || "-", when(c.refreshedAt ?? null), c.reason ?? c.lastError ?? "-"].join("\t"));
    return 0;
  });
}

export async function disconnectCommand(values: Values, positionals: string[]): Promise<number> {
  const [name] = positionals;
  if (!name) throw new Error("disconnect needs a connection name");
  const force = values.force === true;
  // the connection's client secret authenticates the revocation at the provider; --force contacts no provider
  return withGateway(
    values,
    async (gw) => {
      const r = await gw.oauth.disconnect(name, "cli", { force });
      const how = r.revoked ? ", revoked at the provider" : force && r.deleted ? `, not revoked at the provider (--force${r.unreadable ? "; it could not be unsealed" : ""})` : "";
      out(`${name}: ${r.deleted ? "grant deleted" : "was not connected"}${how}`);
      return 0;
    },
    force ? storeSecrets : connectionSecrets(name),
  );
}

export async function logsCommand(values: Values): Promise<number> {
  return withGateway(values, async (gw) => {
    const project = str(values.project);
    const print = (l: { at: number; project: string; endpoint: string; method: string; path: string; status: number; ms: number; bytes: number | null; tokenId: string | null; error: string | null }) =>
      out([new Date(l.at).toISOString(), `${l.project}/${l.endpoint}`, l.method, l.path, l.status, `${l.ms}ms`, l.bytes ?? "-", l.tokenId ?? "-", l.error ?? ""].join("\t"));
    let after = 0;
    for (const l of gw.requestLog.list({ limit: Number(str(values.limit) ?? 50), project })) {
      print(l);
      after = l.id;
    }
    if (!values.follow) return 0;
    for (;;) {
      await Bun.sleep(500);
      for (const l of gw.requestLog.list({ afterId: after, limit: 500, project })) {
        print(l);
        after = l.id;
      }
    }
  });
}

export async function auditCommand(values: Values): Promise<number> {
  return withGateway(values, async (gw) => {
    for (const e of gw.store.audit.list({ limit: Number(str(values.limit) ?? 100), kind: str(values.kind) }))
      out([new Date(e.at).toISOString(), e.kind, e.actor ?? "-", e.subject ?? "-", e.detail ? JSON.stringify(e.detail) : ""].join("\t"));
    return 0;
  });
}
