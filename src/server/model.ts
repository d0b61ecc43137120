/** TypeBox models of the core config sections: [server], [storage], [logging], [admin]. */
import { Type, type Static } from "@sinclair/typebox";
import { Duration, SecretRef, Section, HttpUrl } from "../config/types.ts";

export const ServerSection = Section(
  {
    host: Type.String({ default: "127.0.0.1", description: "Address to listen on; 0.0.0.0 / :: for every interface" }),
    port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535, description: "TCP port (default 8080); 0 picks a free one (logged at startup). With unix_socket, set it to listen on TCP as well" })),
    unix_socket: Type.Optional(Type.String({ minLength: 1, description: "Listen on this Unix socket path: instead of host:port, or beside it when port is set too" })),
    public_url: Type.Optional(HttpUrl("External base URL clients use (links, redirects, OAuth callbacks); default http://host:port")),
    tls_cert: Type.Optional(Type.String({ minLength: 1, description: "PEM certificate chain file; serve HTTPS when set together with tls_key" })),
    tls_key: Type.Optional(SecretRef("PEM private key (secret reference, e.g. file:/etc/hubgate/tls.key)")),
    max_body_bytes: Type.Integer({ minimum: 1024, default: 10 * 1024 * 1024, description: "Largest request body accepted (413 beyond)" }),
    max_header_bytes: Type.Integer({ minimum: 1024, maximum: 16 * 1024, default: 16 * 1024, description: "Largest total request header size accepted (431 beyond); Bun's own ceiling is 16 KiB" }),
    idle_timeout: Duration("Close idle keep-alive connections after this long (at most 255 s); streaming responses are exempt", "120s"),
    shutdown_grace: Duration("On SIGTERM/SIGINT, how long in-flight requests and streams may take to finish", "30s"),
    trust_proxy: Type.Boolean({ default: false, description: "Take the client address from X-Forwarded-For (only behind a trusted reverse proxy)" }),
  },
  "HTTP listener",
  { default: {} },
);

export const StorageSection = Section(
  {
    path: Type.String({ minLength: 1, default: "./data/hubgate.db", description: "SQLite database file; its directory is the data dir (app.key lives there when generated)" }),
    app_key: Type.Optional(SecretRef("32-byte app key (base64 or hex) sealing stored secrets; else env HUBGATE_APP_KEY, else <data dir>/app.key, generated on first run")),
    previous_app_keys: Type.Array(SecretRef("An older app key, still accepted for reading until `hubgate rekey` re-seals every row"), {
      default: [],
      description: "Older app keys, kept readable during a key rotation",
    }),
  },
  "Persistence",
  { default: {} },
);

export const LoggingSection = Section(
  {
    level: Type.Union([Type.Literal("debug"), Type.Literal("info"), Type.Literal("warn"), Type.Literal("error")], {
      default: "info",
      description: "Minimum level written to stdout",
    }),
    format: Type.Union([Type.Literal("auto"), Type.Literal("json"), Type.Literal("text")], {
      default: "auto",
      description: "Lines on stdout: json (one object a line) or text (`<time> <LEVEL> <message> key=value …`); auto: text when stdout is a terminal, json otherwise, decided at start",
    }),
    access_log: Type.Boolean({ default: true, description: "One log line per request (method, route, status, duration, request id; never query strings or credentials)" }),
    request_log_max_rows: Type.Integer({ minimum: 0, default: 100_000, description: "Proxied-request log kept in the database: at most this many rows (0 disables it)" }),
    request_log_max_age: Duration("…and none older than this", "30d"),
  },
  "Logs on stdout (JSON or text) and the request log in the database",
  { default: {} },
);

export const AdminSection = Section(
  {
    token: Type.Optional(SecretRef("Bearer token guarding /admin/* (secret reference); the admin API is disabled when unset")),
  },
  "Admin API",
  { default: {} },
);

export type ServerConfig = Static<typeof ServerSection>;

export const DEFAULT_PORT = 8080;

/** The TCP port to listen on, or null: a unix socket alone replaces TCP unless `port` is set explicitly. */
export function tcpPort(s: ServerConfig): number | null {
  return s.port ?? (s.unix_socket ? null : DEFAULT_PORT);
}
export type StorageConfig = Static<typeof StorageSection>;
export type LoggingConfig = Static<typeof LoggingSection>;
export type AdminConfig = Static<typeof AdminSection>;
