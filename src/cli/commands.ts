/** Subcommands. Each parses its own flags (node:util parseArgs) and returns an exit code. */
import { locateConfig, loadConfig, formatIssues, ConfigError, storeSecrets } from "../config/index.ts";
import { serve } from "../server/serve.ts";
import { Logger } from "../core/log.ts";
import { Gateway } from "../server/gateway.ts";
import { rekey } from "../store/rekey.ts";
import { isGatewayError } from "../core/errors.ts";
import { compileRouteTable } from "../routes/compile.ts";
import { auditCommand, connectCommand, connectionsCommand, disconnectCommand, logsCommand, tokenCommand } from "./manage.ts";

type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;
type ParseOptions = Record<string, { type: "string" | "boolean"; short?: string; multiple?: boolean }>;
export interface Command {
  summary: string;
  options: ParseOptions;
  positionals?: boolean;
  run(values: Values, positionals: string[]): Promise<number>;
}

const configOpt: ParseOptions = { config: { type: "string", short: "c" } };
const env = process.env as Record<string, string | undefined>;

function configPathOrFail(values: Values): string | null {
  const loc = locateConfig(typeof values.config === "string" ? values.config : undefined, env);
  return loc.path;
}

function reportError(cmd: string, e: unknown): number {
  if (e instanceof ConfigError) process.stderr.write(`hubgate ${cmd}: invalid configuration (${e.issues.length} error(s)):\n${formatIssues(e.issues)}\n`);
  else if (isGatewayError(e)) process.stderr.write(`hubgate ${cmd}: ${e.message} [${e.code}]\n`);
  else process.stderr.write(`hubgate ${cmd}: ${e instanceof Error ? e.message : String(e)}\n`);
  return 1;
}

export const commands: Record<string, Command> = {
  serve: {
    summary:
      "run the gateway (default config ./gateway.toml or $HUBGATE_CONFIG; the embedded example when neither exists); " +
      "--drop-unreadable-secrets: delete the stored secrets sealed with app keys that are not configured instead of refusing to start",
    options: { ...configOpt, "drop-unreadable-secrets": { type: "boolean" } },
    async run(values) {
      const log = new Logger("info");
      const path = configPathOrFail(values);
      if (path === null) log.warn("no gateway.toml found; running on the embedded example config", { hint: "pass --config or set HUBGATE_CONFIG" });
      try {
        await serve({ configPath: path, env, log, dropUnreadableSecrets: values["drop-unreadable-secrets"] === true });
        return -1;
      } catch (e) {
        if (e instanceof ConfigError) log.error("invalid configuration", { errors: e.issues });
        else if (isGatewayError(e)) log.error("not started", { code: e.code, reason: e.message });
        return reportError("serve", e);
      }
    },
  },
  check: {
    summary: "validate the config and resolve every secret reference; prints each error with its key path (exit 1 on error)",
    options: configOpt,
    async run(values) {
      const path = configPathOrFail(values);
      try {
        const loaded = await loadConfig(path, env);
        // compile too: everything `serve` does short of binding a socket and opening the store
        compileRouteTable({ config: loaded.config, secrets: loaded.secrets, text: loaded.source.text, source: path ?? "embedded", version: 1, own: [] });
        const c = loaded.config;
        process.stdout.write(
          `${path ?? "embedded example config"}: OK — ${c.projects.length} project(s), ` +
            `${c.projects.reduce((n: number, p) => n + p.endpoints.length, 0)} endpoint(s), ${c.oauth_connections.length} OAuth connection(s), ` +
            `${c.github.identities.length} GitHub identit${c.github.identities.length === 1 ? "y" : "ies"}, ${c.mcp.upstreams.length} MCP upstream(s)\n`,
        );
        for (const p of loaded.literalPaths) process.stdout.write(`warning: ${p} holds a literal secret; prefer env:, file:, k8s:, aws: or gcp:\n`);
        return 0;
      } catch (e) {
        return reportError("check", e);
      }
    },
  },
  rekey: {
    summary: "re-seal every stored secret with the current app key (after adding a new key and listing the old one in storage.previous_app_keys)",
    options: configOpt,
    async run(values) {
      try {
        const gw = await Gateway.start({ configPath: configPathOrFail(values), env, role: "manage", secrets: storeSecrets, log: new Logger("warn") });
        let r;
        try {
          gw.assertServerKey("rekey");
          r = await rekey(gw.store, gw.keyring);
        } finally {
          await gw.close();
        }
        process.stdout.write(`rekey: ${r.resealed} of ${r.scanned} sealed value(s) re-sealed with key ${gw.keyring.currentKid}\n`);
        return 0;
      } catch (e) {
        return reportError("rekey", e);
      }
    },
  },
};

/** Management commands report their errors the same way as the others. */
function managed(cmd: string, fn: (values: Values, positionals: string[]) => Promise<number>): Command["run"] {
  return async (values, positionals) => {
    try {
      return await fn(values, positionals);
    } catch (e) {
      return reportError(cmd, e);
    }
  };
}

Object.assign(commands, {
  token: {
    summary: "create | list | revoke API tokens: token create --project P --name N [--scope proxy …] [--env live|test] [--expires 30d]",
    options: {
      ...configOpt,
      project: { type: "string" },
      name: { type: "string" },
      scope: { type: "string", multiple: true },
      env: { type: "string" },
      expires: { type: "string" },
    },
    positionals: true,
    run: managed("token", tokenCommand),
  },
  connect: { summary: "print a one-time URL that connects an OAuth connection (open it in a browser)", options: configOpt, positionals: true, run: managed("connect", connectCommand) },
  connections: { summary: "list OAuth connections: status, expiry, scopes, last refresh", options: configOpt, run: managed("connections", (v) => connectionsCommand(v)) },
  disconnect: {
    summary: "revoke (where the provider supports it) and delete an OAuth grant; disconnect --force NAME deletes it without contacting the provider (a grant that cannot be unsealed)",
    options: { ...configOpt, force: { type: "boolean" } },
    positionals: true,
    run: managed("disconnect", disconnectCommand),
  },
  logs: {
    summary: "proxied-request log: logs [--project P] [--limit N] [--follow]",
    options: { ...configOpt, project: { type: "string" }, limit: { type: "string" }, follow: { type: "boolean", short: "f" } },
    run: managed("logs", (v) => logsCommand(v)),
  },
  "hash-password": {
    summary: "read a password on stdin, print its argon2id hash for [[mcp.users]] password_hash",
    options: {},
    async run() {
      const input = (await new Response(Bun.stdin.stream()).text()).replace(/\r?\n$/, "");
      if (input.length < 8) {
        process.stderr.write("hubgate hash-password: give a password of at least 8 characters on stdin\n");
        return 1;
      }
      process.stdout.write(`${await Bun.password.hash(input, { algorithm: "argon2id" })}\n`);
      return 0;
    },
  },
  audit: { summary: "audit log: audit [--kind K] [--limit N]", options: { ...configOpt, kind: { type: "string" }, limit: { type: "string" } }, run: managed("audit", (v) => auditCommand(v)) },
} satisfies Record<string, Command>);

export function usage(): string {
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`);
  return `hubgate — one gateway between clients and GitHub, OAuth-protected APIs and remote MCP servers

Usage: hubgate <command> [--config PATH]

Commands:
${lines.join("\n")}
  version    print the version
  help       this text

Config: --config PATH, else $HUBGATE_CONFIG, else ./gateway.toml, else the embedded example.
App key: storage.app_key, else $HUBGATE_APP_KEY, else <data dir>/app.key (generated on first run).
Signals: SIGHUP reloads the config; SIGTERM/SIGINT drain and stop.
`;
}
