/**
 * The commands: each declares its flags, arguments and examples (src/cli/spec.ts turns them into help,
 * usage lines and usage errors) and returns an exit status.
 */
import { locateConfig, loadConfig, ConfigError, storeSecrets, parseConfig, readConfigSource } from "../config/index.ts";
import { isGatewayError } from "../core/errors.ts";
import { DURATION_PATTERN, durationMs } from "../config/types.ts";
import { serve, superviseWorkers, WORKER_PORT_ENV } from "../root/serve.ts";
import { workerId } from "../server/cluster.ts";
import { workerCount } from "../server/model.ts";
import { Logger } from "../core/log.ts";
import { Gateway } from "../root/gateway.ts";
import { rekey } from "../store/rekey.ts";
import { AUDIT_KINDS, isAuditKind } from "../store/audit.ts";
import { didYouMean } from "../core/suggest.ts";
import { SCOPES, TOKEN_NAME } from "../tokens/service.ts";
import { compileRouteTable } from "../routes/compile.ts";
import { DocumentCache } from "../openapi/load.ts";
import { VERSION } from "../version.ts";
import { auditCommand, connectCommand, connectionsCommand, disconnectCommand, logsCommand, tokenCreate, tokenList, tokenRevoke } from "./manage.ts";
import { cliLogger } from "./output.ts";
import { storeMigrate } from "./migrate.ts";
import { commandList, helpFor, oneOf, positiveInt, type Command, type Flag, type Values } from "./spec.ts";
import { formatFindings, storageFindings, upstreamFindings } from "./preflight.ts";

const env = process.env as Record<string, string | undefined>;

/** The most rows `logs` and `audit` print at once (the store pages at most this many). */
export const MAX_LIMIT = 1000;

const config: Flag = { type: "string", short: "c", arg: "PATH", help: "the gateway config (else $HUBGATE_CONFIG, else ./gateway.toml)" };
const json: Flag = { type: "boolean", help: "print JSON Lines (one object per line, as the admin API returns them) instead of a table" };

function duration(v: string): string | undefined {
  if (!new RegExp(DURATION_PATTERN).test(v)) return `expected a duration like 90s, 15m, 12h or 30d, got "${v}"`;
  return durationMs(v) > 0 ? undefined : `expected a duration greater than zero, got "${v}"`;
}

function tokenName(v: string): string | undefined {
  return TOKEN_NAME.test(v) ? undefined : `expected 1–64 letters, digits, spaces or . _ : @ -, got "${v}"`;
}

function auditKind(v: string): string | undefined {
  if (isAuditKind(v)) return undefined;
  return `unknown audit kind "${v}"${didYouMean(v, Object.keys(AUDIT_KINDS))}`;
}

function configPath(values: Values): string | null {
  return locateConfig(typeof values.config === "string" ? values.config : undefined, env).path;
}

export const commands: Record<string, Command> = {
  serve: {
    summary: "run the gateway",
    description: "Without a config file (no --config, no $HUBGATE_CONFIG, no ./gateway.toml) it runs the embedded example config.\nLogs are JSON lines on stdout. SIGHUP reloads the config; SIGTERM/SIGINT drain and stop.",
    flags: {
      config,
      "drop-unreadable-secrets": {
        type: "boolean",
        help: "delete the stored secrets sealed with app keys that are not configured (audited), instead of refusing to start",
      },
    },
    examples: ["hubgate serve --config /etc/hubgate/gateway.toml", "hubgate serve --config /etc/hubgate/gateway.toml --drop-unreadable-secrets"],
    async run(values) {
      const log = new Logger("info");
      const path = configPath(values);
      if (path === null) log.warn("no gateway.toml found; running on the embedded example config", { hint: "pass --config or set HUBGATE_CONFIG" });
      const drop = values["drop-unreadable-secrets"] === true;
      try {
        const id = workerId(env);
        if (id !== null) {
          // one of the workers of a supervising hubgate (it started this process)
          const port = env[WORKER_PORT_ENV];
          await serve({ configPath: path, env, log: log.child({ worker: id }), role: "worker", worker: { id, port: port ? Number(port) : null } });
          return -1;
        }
        const workers = workerCount(parseConfig(readConfigSource(path).text).server);
        if (workers > 1) {
          await superviseWorkers({ configPath: path, env, log, dropUnreadableSecrets: drop, workers, args: process.argv.slice(2) });
          return -1;
        }
        await serve({ configPath: path, env, log, dropUnreadableSecrets: drop });
        return -1;
      } catch (e) {
        if (e instanceof ConfigError) log.error("invalid configuration", { errors: e.issues });
        else if (isGatewayError(e)) log.error("not started", { code: e.code, reason: e.message });
        throw e;
      }
    },
  },
  check: {
    summary: "validate the config and resolve every secret reference",
    description: "Prints each error with its key path and exits 1 when there is one; literal secrets are warned about.",
    flags: { config },
    examples: ["hubgate check --config gateway.toml"],
    async run(values) {
      const path = configPath(values);
      const loaded = await loadConfig(path, env);
      // compile too: everything `serve` does short of binding a socket and opening the store,
      // upstream OpenAPI documents included (read and fetched as serve does)
      const documents = await Gateway.loadDocuments(loaded, new DocumentCache());
      const table = compileRouteTable({ config: loaded.config, secrets: loaded.secrets, text: loaded.source.text, source: path ?? "embedded", version: 1, own: [], documents });
      const c = loaded.config;
      // what serve would only meet later: upstreams the SSRF guard will refuse
      const findings = [...storageFindings(c, loaded.secrets), ...(await upstreamFindings(c, table.connections))];
      process.stderr.write(formatFindings(findings));
      const errors = findings.filter((f) => f.level === "error").length;
      if (errors) {
        process.stderr.write(`error: check: ${errors} error(s) that serve would hit\n`);
        return 1;
      }
      process.stdout.write(
        `${path ?? "embedded example config"}: OK — ${c.projects.length} project(s), ` +
          `${c.projects.reduce((n: number, p) => n + p.endpoints.length, 0)} endpoint(s), ${c.oauth_connections.length} OAuth connection(s), ` +
          `${c.github.identities.length} GitHub identit${c.github.identities.length === 1 ? "y" : "ies"}, ${c.mcp.upstreams.length} MCP upstream(s)\n`,
      );
      const routes = [...table.endpoints.values()];
      const documented = routes.filter((r) => r.openapi !== null);
      if (documents.size)
        process.stdout.write(
          `upstream OpenAPI documents: ${documented.length} of ${documents.size} in use, ` +
            `${documented.reduce((n, r) => n + (r.openapi?.selection.operations.length ?? 0), 0)} operation(s) documented, ` +
            `${routes.reduce((n, r) => n + r.mcpTools.filter((t) => t.binding !== undefined).length, 0)} MCP tool(s) made from them\n`,
        );
      for (const p of loaded.literalPaths) process.stdout.write(`warning: ${p} holds a literal secret; prefer env:, file:, k8s:, aws: or gcp:\n`);
      // what serve does without (an upstream document, a tool), and why; never an error: serve keeps serving
      for (const w of table.warnings) process.stdout.write(`warning: ${w.path}: ${w.message}\n`);
      if (loaded.secrets.size > loaded.literalPaths.length)
        process.stdout.write("note: secret references (env:, file:, …) were resolved here, in this shell's environment; the server resolves them in its own\n");
      return 0;
    },
  },
  rekey: {
    summary: "re-seal every stored secret with the current app key",
    description: "After adding a new app key and listing the old one in storage.previous_app_keys; then the old key can go.",
    flags: { config },
    examples: ["hubgate rekey --config /etc/hubgate/gateway.toml"],
    async run(values) {
      const gw = await Gateway.start({ configPath: configPath(values), env, role: "manage", secrets: storeSecrets, log: cliLogger() });
      let r;
      try {
        await gw.assertServerKey("rekey");
        r = await rekey(gw.store, gw.keyring);
      } finally {
        await gw.close();
      }
      process.stdout.write(`rekey: ${r.resealed} of ${r.scanned} sealed value(s) re-sealed with key ${gw.keyring.currentKid}\n`);
      return 0;
    },
  },
  store: {
    summary: "move the store to PostgreSQL",
    description:
      "The embedded SQLite file serves one process; several replicas share a PostgreSQL database ([storage] backend = \"postgres\").",
    subcommands: {
      migrate: {
        summary: "copy the config's store (the SQLite file) into a PostgreSQL database, row for row; prints the rows per table",
        description:
          "Stop the server first (for a SQLite store the copy takes its lock, so a running serve makes it refuse). The target is migrated to the same schema and written in one transaction: API tokens, OAuth grants and connect states, MCP clients, consents, codes and tokens, sealed key-values, meta and the audit log (the request log with --request-log). Sealed values are copied as they are: start the gateway on PostgreSQL with the same app key. A target that holds rows is refused unless --force, which empties it first. Then set [storage] backend = \"postgres\" and url in the config.",
        flags: {
          to: {
            type: "string",
            arg: "URL|REF",
            required: true,
            help: "the PostgreSQL database: a secret reference (env:VAR, file:PATH, …; keeps the password off the command line) or postgres://user:pw@host:5432/db",
          },
          force: { type: "boolean", help: "empty a target that already holds rows, instead of refusing it" },
          "request-log": { type: "boolean", help: "copy the proxied-request log too (history only; it can be large)" },
          config,
        },
        examples: [
          "HUBGATE_DATABASE_URL=postgres://hubgate:pw@db:5432/hubgate hubgate store migrate --config gateway.toml --to env:HUBGATE_DATABASE_URL",
          "hubgate store migrate --config gateway.toml --to file:/run/secrets/database-url --request-log",
          "hubgate store migrate --config gateway.toml --to env:HUBGATE_DATABASE_URL --force",
        ],
        run: storeMigrate,
      },
    },
    examples: ["hubgate store migrate --config gateway.toml --to env:HUBGATE_DATABASE_URL"],
  },
  token: {
    summary: "create, list and revoke API tokens",
    description: "API tokens (hg_live_… / hg_test_…) let clients call a project's endpoints; only their hash is stored.",
    subcommands: {
      create: {
        summary: "create an API token; it is printed once, on stdout",
        flags: {
          project: { type: "string", arg: "PROJECT", help: "the project's id in the config", required: true },
          name: { type: "string", arg: "NAME", help: "a name to know it by: 1–64 letters, digits, spaces or . _ : @ -", required: true, check: tokenName },
          scope: { type: "string", arg: "SCOPE", multiple: true, help: `what it may do: ${SCOPES.join(", ")}; default proxy`, check: oneOf(SCOPES) },
          env: { type: "string", arg: "live|test", help: "the token's prefix, hg_live_ (default) or hg_test_", check: oneOf(["live", "test"]) },
          expires: { type: "string", arg: "DURATION", help: "lifetime, e.g. 30d or 12h (default: no expiry)", check: duration },
          config,
        },
        examples: [
          "hubgate token create --project web --name ci",
          "hubgate token create --project web --name deploy --scope proxy --scope github:read --expires 30d",
          "TOKEN=$(hubgate token create --project web --name ci --env test)",
        ],
        run: tokenCreate,
      },
      list: {
        summary: "list API tokens (never the tokens themselves)",
        flags: { project: { type: "string", arg: "PROJECT", help: "only this project's tokens" }, json, config },
        examples: ["hubgate token list --project web", "hubgate token list --json | jq -r 'select(.revoked_at == null) | .id'"],
        run: tokenList,
      },
      revoke: {
        summary: "revoke an API token",
        flags: { config },
        args: [{ name: "ID", help: "the token's id (the ID column of 'hubgate token list')" }],
        examples: ["hubgate token revoke 3f0c9a52-…"],
        run: tokenRevoke,
      },
    },
    examples: ["hubgate token create --project web --name ci", "hubgate token list", "hubgate token revoke ID"],
  },
  connect: {
    summary: "print a one-time URL that connects an OAuth connection",
    description: "Open the URL in a browser within 10 minutes; it works once, on the running gateway.",
    flags: { config },
    args: [{ name: "NAME", help: "the connection (see 'hubgate connections')" }],
    examples: ["hubgate connect github"],
    run: connectCommand,
  },
  connections: {
    summary: "list OAuth connections: status, expiry, scopes, last refresh",
    flags: { json, config },
    args: [{ name: "NAME", help: "only this connection", optional: true }],
    examples: ["hubgate connections", "hubgate connections github --json"],
    run: connectionsCommand,
  },
  disconnect: {
    summary: "revoke (where the provider supports it) and delete an OAuth grant",
    flags: {
      force: { type: "boolean", help: "delete the grant without contacting the provider: for a grant that cannot be unsealed (status unreadable)" },
      config,
    },
    args: [{ name: "NAME", help: "the connection (see 'hubgate connections')" }],
    examples: ["hubgate disconnect github", "hubgate disconnect --force github"],
    run: disconnectCommand,
  },
  logs: {
    summary: "show the proxied-request log, newest last",
    flags: {
      project: { type: "string", arg: "PROJECT", help: "only this project's requests" },
      limit: { type: "string", arg: "N", help: `show the newest N rows, 1–${MAX_LIMIT} (default 50)`, check: positiveInt(MAX_LIMIT) },
      since: { type: "string", arg: "DURATION", help: "only rows from the last DURATION, e.g. 15m, 2h, 7d", check: duration },
      follow: { type: "boolean", short: "f", help: "keep printing new rows as they arrive (Ctrl-C stops)" },
      json,
      config,
    },
    examples: ["hubgate logs --project web --limit 200", "hubgate logs --since 15m --follow", "hubgate logs --json | jq 'select(.status >= 500)'"],
    run: logsCommand,
  },
  audit: {
    summary: "show the audit log: who changed what, newest last",
    flags: {
      kind: { type: "string", arg: "KIND", help: "only events of this kind (listed below)", check: auditKind },
      limit: { type: "string", arg: "N", help: `show the newest N events, 1–${MAX_LIMIT} (default 100)`, check: positiveInt(MAX_LIMIT) },
      since: { type: "string", arg: "DURATION", help: "only events from the last DURATION, e.g. 15m, 2h, 7d", check: duration },
      json,
      config,
    },
    examples: ["hubgate audit --kind token.created", "hubgate audit --since 24h --json"],
    more: () => {
      const kinds = Object.entries(AUDIT_KINDS);
      const w = Math.max(...kinds.map(([k]) => k.length));
      return `Audit kinds:\n${kinds.map(([k, d]) => `  ${k.padEnd(w)}   ${d}`).join("\n")}`;
    },
    run: auditCommand,
  },
  "hash-password": {
    summary: "read a password on stdin, print its argon2id hash for [[mcp.users]] password_hash",
    flags: {},
    examples: ["read -rs PW && echo \"$PW\" | hubgate hash-password"],
    async run() {
      const input = (await new Response(Bun.stdin.stream()).text()).replace(/\r?\n$/, "");
      if (input.length < 8) throw new Error("give a password of at least 8 characters on stdin");
      process.stdout.write(`${await Bun.password.hash(input, { algorithm: "argon2id" })}\n`);
      return 0;
    },
  },
  version: {
    summary: "print the version",
    flags: {},
    async run() {
      process.stdout.write(`hubgate ${VERSION} (bun ${Bun.version})\n`);
      return 0;
    },
  },
  help: {
    summary: "show help for hubgate or for a command",
    flags: {},
    args: [
      { name: "COMMAND", help: "the command", optional: true },
      { name: "SUBCOMMAND", help: "its subcommand (token create, …)", optional: true },
    ],
    examples: ["hubgate help token", "hubgate help token create"],
    async run(_values, names) {
      return helpFor(commands, names, usage);
    },
  },
};

export function usage(): string {
  return `hubgate — one gateway between clients and GitHub, OAuth-protected APIs and remote MCP servers

Usage:
  hubgate <command> [subcommand] [flags]

Commands:
${commandList(commands)}

Run 'hubgate <command> --help' or 'hubgate help <command>' for its flags and examples.

Config: --config PATH, else $HUBGATE_CONFIG, else ./gateway.toml, else the embedded example.
App key: storage.app_key, else $HUBGATE_APP_KEY, else <data dir>/app.key (generated on first run).
Signals: SIGHUP reloads the config; SIGTERM/SIGINT drain and stop.
Exit status: 0 done; 1 the command failed; 2 the command line is wrong (unknown command or flag,
missing or malformed argument).
`;
}
