/**
 * Management subcommands that work on the gateway's store directly (the SQLite file the server uses —
 * WAL lets both write — or the PostgreSQL database its replicas share): tokens, OAuth connections,
 * request logs and the audit log.
 * Their flags and arguments arrive already checked (src/cli/spec.ts); tables go to stdout with a
 * header row, `--json` prints JSON Lines, notes for the person go to stderr.
 */
import { Gateway } from "../root/gateway.ts";
import { connectionSecrets, locateConfig, storeSecrets, type SecretFilter } from "../config/index.ts";
import { durationMs } from "../config/types.ts";
import { createApiToken, revokeApiToken, tokenView } from "../tokens/service.ts";
import { connectionNotFound } from "../oauth/service.ts";
import type { TokenEnv } from "../crypto/apitoken.ts";
import type { RequestLog } from "../store/index.ts";
import { cliLogger, jsonLine, out, Table } from "./output.ts";
import type { Values } from "./spec.ts";

const env = process.env as Record<string, string | undefined>;

/**
 * The gateway of a management command: the server's store (which must exist; no lock is taken, the
 * server may be running) and only the secrets the command uses — by default the store's keys.
 */
async function withGateway<T>(values: Values, fn: (gw: Gateway) => Promise<T>, secrets: SecretFilter = storeSecrets): Promise<T> {
  const path = locateConfig(typeof values.config === "string" ? values.config : undefined, env).path;
  // stdout carries only the command's output (a token, a URL, a table); warnings go to stderr as plain text
  const gw = await Gateway.start({ configPath: path, env, role: "manage", secrets, log: cliLogger() });
  try {
    return await fn(gw);
  } finally {
    await gw.close();
  }
}

const str = (v: Values[string]) => (typeof v === "string" ? v : undefined);
const strs = (v: Values[string]) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : typeof v === "string" ? [v] : []);
const when = (ms: number | null) => (ms === null ? "-" : new Date(ms).toISOString());
/** --since DURATION → the time it reaches back to (ms) */
const since = (values: Values) => {
  const d = str(values.since);
  return d === undefined ? undefined : Date.now() - durationMs(d);
};

export async function tokenCreate(values: Values): Promise<number> {
  return withGateway(values, async (gw) => {
    const expires = str(values.expires);
    const scopes = strs(values.scope);
    const { token, row } = await createApiToken(gw, {
      project: str(values.project)!,
      name: str(values.name)!,
      scopes: scopes.length ? scopes : ["proxy"],
      env: (str(values.env) ?? "live") as TokenEnv,
      expiresInMs: expires === undefined ? undefined : durationMs(expires),
      actor: "cli",
    });
    out(token);
    process.stderr.write(`created token ${row.id} (${row.scopes.join(", ")}) for project ${row.project}; it is shown only this once\n`);
    return 0;
  });
}

export async function tokenList(values: Values): Promise<number> {
  return withGateway(values, async (gw) => {
    const rows = (await gw.store.apiTokens.list(str(values.project))).map(tokenView);
    if (values.json) for (const r of rows) jsonLine(r);
    else
      new Table(["ID", "PROJECT", "NAME", "HINT", "SCOPES", "EXPIRES", "REVOKED", "LAST USED"]).print(
        rows.map((r) => [r.id, r.project, r.name, r.hint, r.scopes.join(","), r.expires_at ?? "-", r.revoked_at ?? "-", r.last_used_at ?? "-"]),
      );
    return 0;
  });
}

export async function tokenRevoke(values: Values, [id]: string[]): Promise<number> {
  return withGateway(values, async (gw) => {
    await revokeApiToken(gw, id!, "cli");
    out(`revoked ${id}`);
    return 0;
  });
}

export async function connectCommand(values: Values, [name]: string[]): Promise<number> {
  return withGateway(values, async (gw) => {
    await gw.assertServerKey("connect"); // the link's PKCE verifier is sealed for the server to open
    const { url, expiresAt } = await gw.oauth.startConnect(name!, "cli");
    out(url);
    process.stderr.write(`open this URL in a browser within 10 minutes (until ${when(expiresAt)}); it works once, on the running gateway\n`);
    return 0;
  });
}

export async function connectionsCommand(values: Values, [name]: string[]): Promise<number> {
  return withGateway(values, async (gw) => {
    const all = await gw.oauth.status();
    const rows = name === undefined ? all : all.filter((c) => c.name === name);
    if (name !== undefined && !rows.length) throw connectionNotFound(name, all.map((c) => c.name));
    if (values.json) for (const c of rows) jsonLine(c);
    else
      new Table(["NAME", "PRESET", "STATUS", "EXPIRES", "SCOPES", "LAST REFRESH", "ERROR"]).print(
        rows.map((c) => [c.name, c.preset ?? "-", c.status, when(c.expiresAt ?? null), (c.scopes ?? []).join(",") || "-", when(c.refreshedAt ?? null), c.reason ?? c.lastError ?? "-"]),
      );
    return 0;
  });
}

export async function disconnectCommand(values: Values, [name]: string[]): Promise<number> {
  const force = values.force === true;
  // the connection's client secret authenticates the revocation at the provider; --force contacts no provider
  return withGateway(
    values,
    async (gw) => {
      const r = await gw.oauth.disconnect(name!, "cli", { force });
      const how = r.revoked ? ", revoked at the provider" : force && r.deleted ? `, not revoked at the provider (--force${r.unreadable ? "; it could not be unsealed" : ""})` : "";
      out(`${name}: ${r.deleted ? "grant deleted" : "was not connected"}${how}`);
      return 0;
    },
    force ? storeSecrets : connectionSecrets(name!),
  );
}

const logRow = (l: RequestLog) => [
  new Date(l.at).toISOString(),
  `${l.project}/${l.endpoint}`,
  l.method,
  l.path,
  String(l.status),
  `${l.ms}ms`,
  l.bytes === null ? "-" : String(l.bytes),
  l.tokenId ?? "-",
  l.error ?? "-",
];

export async function logsCommand(values: Values): Promise<number> {
  return withGateway(values, async (gw) => {
    const project = str(values.project);
    const table = new Table(["TIME", "ENDPOINT", "METHOD", "PATH", "STATUS", "DURATION", "BYTES", "TOKEN", "ERROR"]);
    const print = (rows: RequestLog[]) => (values.json ? rows.forEach(jsonLine) : table.print(rows.map(logRow)));
    let rows = await gw.requestLog.list({ limit: Number(str(values.limit) ?? 50), since: since(values), project });
    print(rows);
    if (!values.follow) return 0;
    // from the last row shown, or from the newest row there is: older rows (outside --since) are not news
    let after = rows.at(-1)?.id ?? (await gw.requestLog.list({ limit: 1 })).at(-1)?.id ?? 0;
    for (;;) {
      await Bun.sleep(500);
      rows = await gw.requestLog.list({ afterId: after, limit: 500, project });
      if (rows.length) print(rows);
      after = rows.at(-1)?.id ?? after;
    }
  });
}

export async function auditCommand(values: Values): Promise<number> {
  return withGateway(values, async (gw) => {
    const events = await gw.store.audit.list({ limit: Number(str(values.limit) ?? 100), since: since(values), kind: str(values.kind) });
    if (values.json) for (const e of events) jsonLine(e);
    else
      new Table(["TIME", "KIND", "ACTOR", "SUBJECT", "DETAIL"]).print(
        events.map((e) => [new Date(e.at).toISOString(), e.kind, e.actor ?? "-", e.subject ?? "-", e.detail ? JSON.stringify(e.detail) : "-"]),
      );
    return 0;
  });
}
