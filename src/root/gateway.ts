/**
 * The running gateway: logger, metrics, store, shared state and the route-table holder, plus the
 * reload pipeline (read → validate → resolve secrets → compile → atomic swap). Part of the composition
 * root: app.ts hands each feature the few interfaces it uses from here (features never import this
 * module); management commands (src/cli) open one to reach the store.
 */
import { existsSync, mkdirSync } from "node:fs";
import { dirname, resolve as resolvePath } from "node:path";
import type { Server } from "bun";
import { Logger } from "../core/log.ts";
import { loadConfig, formatIssues, ConfigError, type LoadedConfig, type ConfigIssue, type SecretFilter } from "../config/index.ts";
import { compileRouteTable } from "../routes/compile.ts";
import { RouteTableHolder, type OwnRoute, type RouteTable } from "../routes/table.ts";
import { Registry } from "../metrics/registry.ts";
import { openDriver, storeOn, storeTarget, type Driver, type Store, type StoreTarget } from "../store/index.ts";
import { dropSealedWith, sealedKids } from "../store/sealed.ts";
import { acquireStoreLock, type StoreLock } from "../store/lock.ts";
import { Keyring, type UnsealFailure } from "../crypto/keyring.ts";
import { appKeyPath, findAppKey, generateAppKey, parseAppKey } from "../crypto/appkey.ts";
import { GatewayError } from "../core/errors.ts";
import { createMemoryState, createState, type SharedState } from "../state/index.ts";
import { OAuthService } from "../oauth/service.ts";
import { RequestLogger } from "../server/requestlog.ts";
import { AuthThrottle } from "../tokens/throttle.ts";
import { TokenVerifier } from "../tokens/verify.ts";
import type { WorkerLink } from "../server/cluster.ts";
import { DocumentCache, loadUpstreamDocuments, type UpstreamDocuments } from "../openapi/load.ts";
import type { LoggingConfig, ReloadStatus, StatsProviders } from "../server/model.ts";

export interface GatewayOptions {
  configPath: string | null;
  env: Record<string, string | undefined>;
  log?: Logger;
  /** a SQLite file (":memory:" in tests) instead of the configured store */
  storePath?: string;
  /**
   * "serve" (the default): the process that serves, holding the embedded store's lock for its lifetime
   * (a PostgreSQL store is shared by every replica: no lock). "manage": a management command working
   * beside it — no lock taken. "worker": one of several serving processes of one binary
   * (`[server] workers`): serves like "serve", while the supervising process holds the store's lock for all of them.
   */
  role?: "serve" | "manage" | "worker";
  /** resolve only these secret references (a management command); default every one */
  secrets?: SecretFilter;
  /** serve: delete the secrets sealed with app keys that are not configured (audited) instead of refusing to start */
  dropUnreadableSecrets?: boolean;
}

/** meta key: the id of the app key `serve` last started with */
const SERVING_KID = "serve.app_key_kid";

/** Keys read once at startup; a reload that changes them logs that a restart is needed. */
const RESTART_KEYS = [
  "server.host", "server.port", "server.unix_socket", "server.tls_cert", "server.tls_key", "server.workers",
  "storage.backend", "storage.path", "storage.url", "storage.pool_size", "storage.app_key",
  "state.backend", "state.url", "state.key_prefix",
];

/**
 * Every stored secret that cannot be opened is logged at error level: where it is (table and column;
 * the row too for grants and sealed key-values, whose keys are names, not credentials), the key id
 * it names and why — never a value.
 */
function logUnsealFailure(log: Logger, f: UnsealFailure): void {
  const colon = f.aad.indexOf(":");
  const where = f.aad.slice(0, colon);
  const row = where.startsWith("oauth_grants.") || where.startsWith("sealed_kv.") ? f.aad.slice(colon + 1) : undefined;
  log.error("a stored secret cannot be unsealed", { where, ...(row === undefined ? {} : { row }), kid: f.kid, reason: f.reason });
}

export class Gateway {
  readonly startedAt = Date.now();
  readonly metrics = new Registry();
  readonly reloads: ReloadStatus = { count: 0, failures: 0, lastAt: null, lastResult: null, lastIssues: [] };
  /** per-feature counters shown in /stats */
  readonly statsProviders: StatsProviders = new Map();
  /** features' start-up work (e.g. resolving GitHub identities); serve() awaits it before listening */
  readonly startupTasks: Promise<unknown>[] = [];
  /** run after every successful reload (and by features at startup), e.g. to re-resolve GitHub identities */
  readonly reloadHooks: ((table: RouteTable) => Promise<void>)[] = [];
  draining = false;
  boundUrl?: string;
  /** the listening servers, once bound (none for in-process use): TCP, a unix socket, or both */
  servers: Server<unknown>[] = [];
  own: OwnRoute[] = [];
  private reloading: Promise<boolean> | null = null;
  /** OAuth connections: connect flow, token refresh, disconnect */
  readonly oauth: OAuthService;
  /** under `[server] workers`: this worker's line to its supervisor (null in a single process) */
  cluster: WorkerLink | null = null;
  /** hubgate API tokens: declared in the table or stored, checked behind the throttle */
  readonly tokens: TokenVerifier;
  /** failed credential checks per client address, for every surface */
  readonly authThrottle: AuthThrottle;
  /** the proxied-request log (endpoints and MCP), with its retention */
  readonly requestLog: RequestLogger;

  private constructor(
    readonly opts: GatewayOptions,
    readonly log: Logger,
    readonly store: Store,
    readonly keyring: Keyring,
    readonly state: SharedState,
    readonly routes: RouteTableHolder,
    private loaded: LoadedConfig,
    /** fetched upstream OpenAPI documents, kept across reloads */
    private readonly documentCache: DocumentCache,
    /** the documents loaded at start-up, until finishStartup has compiled with them (whole documents are large; the table keeps only what it selected) */
    private startupDocuments: UpstreamDocuments | null,
    private storeLock: StoreLock | null,
  ) {
    this.authThrottle = new AuthThrottle({ counter: state.rateCounter, audit: store.audit });
    this.tokens = new TokenVerifier({ declared: () => this.routes.current().apiTokens, repo: store.apiTokens, throttle: this.authThrottle, clientAddress: (r) => this.clientAddress(r) });
    this.oauth = new OAuthService({ grants: store.oauth, audit: store.audit, flights: state.flights, table: () => this.routes.current(), log });
    this.requestLog = new RequestLogger({ repo: store.requestLogs, logging: () => this.config.logging, log });
    this.metrics.gauge("hubgate_config_version", "Version of the route table in use").set({}, () => this.routes.current().version);
    this.metrics.gauge("hubgate_uptime_seconds", "Seconds since start").set({}, () => Math.round((Date.now() - this.startedAt) / 1000));
  }

  static async start(opts: GatewayOptions): Promise<Gateway> {
    const log = opts.log ?? new Logger("info");
    const loaded = await loadConfig(opts.configPath, opts.env, log, { secrets: opts.secrets, validated: (c) => Gateway.configureLog(log, c.logging) });
    Gateway.warnLiterals(log, loaded);
    const storePath = opts.storePath ?? resolvePath(loaded.config.storage.path);
    const target: StoreTarget = opts.storePath !== undefined ? { backend: "sqlite", path: storePath } : storeTarget(loaded.config.storage, loaded.secrets, storePath);
    const dataDir = storePath === ":memory:" ? resolvePath("./data") : dirname(storePath);
    const role = opts.role ?? "serve";
    const serving = role !== "manage";
    const where = loaded.source.path ?? "the embedded example config";
    let lock: StoreLock | null = null;
    // PostgreSQL is shared by every replica on purpose: no lock, and nothing on the local disk to check
    const embedded = target.backend === "sqlite" && storePath !== ":memory:";
    if (serving && embedded) {
      mkdirSync(dataDir, { recursive: true, mode: 0o700 });
      // before anything is created or read: a second serve stops here (a worker's supervisor holds it)
      if (role === "serve") lock = acquireStoreLock(storePath);
    } else if (!serving && embedded && !existsSync(storePath)) {
      throw new GatewayError(
        "store_not_found",
        `no store at ${storePath} (storage.path of ${where}; a relative path is taken from the config file's directory). Management commands use the store of the server and never create one: pass the server's config with --config or $HUBGATE_CONFIG, or start \`hubgate serve\` with this config first`,
        500,
      );
    }
    let driver: Driver | null = null;
    try {
      driver = await openDriver(target, log, { create: serving });
      const { keyring, dropped } = await Gateway.keyringFor(loaded, driver, { env: opts.env, log, dataDir, serving, drop: opts.dropUnreadableSecrets ?? false, where });
      const store = storeOn(driver, keyring);
      if (dropped) await store.audit.append({ kind: "store.secrets_dropped", actor: "cli", detail: dropped });
      // what a management command must seal with (see assertServerKey)
      if (serving) await store.meta.set(SERVING_KID, keyring.currentKid);
      const documentCache = new DocumentCache();
      // a management command proxies nothing: it fetches no upstream document
      const documents: UpstreamDocuments = serving ? await Gateway.loadDocuments(loaded, documentCache) : new Map();
      const table = compileRouteTable({ ...Gateway.compileInput(loaded), version: 1, own: [], documents });
      if (serving) Gateway.logWarnings(log, table);
      // a management command shares nothing with the server's replicas (and resolves no [state] url)
      const state = serving ? await createState(loaded.config.state, loaded.secrets, log) : createMemoryState();
      return new Gateway(opts, log, store, keyring, state, new RouteTableHolder(table), loaded, documentCache, documents, lock);
    } catch (e) {
      await driver?.close();
      lock?.release();
      throw e;
    }
  }

  /**
   * The keyring, checked against what the store holds sealed. `serve` refuses to start while a sealed
   * value's key id is not configured — or, told to, drops those values — and generates a key only for
   * a store that holds nothing sealed; a management command never generates one and only warns (its
   * `connections` shows such grants as unreadable).
   */
  private static async keyringFor(
    loaded: LoadedConfig,
    driver: Driver,
    c: { env: Record<string, string | undefined>; log: Logger; dataDir: string; serving: boolean; drop: boolean; where: string },
  ): Promise<{ keyring: Keyring; dropped: { kids: string[]; rows: Record<string, number>; grants: string[] } | null }> {
    const configured = loaded.config.storage.app_key === undefined ? undefined : loaded.secrets.get("storage.app_key");
    const found = findAppKey({ configured, env: c.env, dataDir: c.dataDir, log: c.log });
    const keyFile = appKeyPath(c.dataDir);
    if (!found && !c.serving)
      throw new GatewayError(
        "app_key_not_found",
        `no app key: storage.app_key is not set in ${c.where}, $HUBGATE_APP_KEY is empty and ${keyFile} does not exist. Management commands use the server's key and never generate one: give this command the key the server uses`,
        500,
      );
    const previous = loaded.config.storage.previous_app_keys.map((_, i) =>
      parseAppKey(loaded.secrets.get(`storage.previous_app_keys[${i}]`) ?? "", `storage.previous_app_keys[${i}]`),
    );
    const currentKid = found ? await Keyring.idOf(found.key) : null;
    const known = new Set([...(currentKid ? [currentKid] : []), ...(await Promise.all(previous.map((k) => Keyring.idOf(k))))]);
    const sealed = await sealedKids(driver);
    const missing = [...sealed.keys()].filter((kid) => !known.has(kid)).sort();
    const describe = (kids: string[]) =>
      kids.map((kid) => `${kid} (${sealed.get(kid)!.values} value(s) in ${sealed.get(kid)!.columns.join(", ")})`).join("; ");
    let dropped = null;
    if (missing.length && !c.serving) c.log.warn("the store holds secrets sealed with app keys this command was not given; they cannot be read", { kids: missing });
    if (missing.length && c.serving) {
      const current = found ? `this server's key is ${currentKid} (${found.source === "config" ? "storage.app_key" : found.source === "env" ? "$HUBGATE_APP_KEY" : found.path})` : `no app key is configured (storage.app_key, $HUBGATE_APP_KEY) and ${keyFile} does not exist — was it deleted? A new key is never generated for a store that holds sealed secrets`;
      if (!c.drop)
        throw new GatewayError(
          "app_key_mismatch",
          `the store holds secrets sealed with app key id(s) that are not configured: ${describe(missing)}; ${current}. ` +
            `Configure the key(s) with those id(s): restore ${found ? "the old key and list it in storage.previous_app_keys (then `hubgate rekey` re-seals with the current key)" : `${keyFile}, or set storage.app_key / $HUBGATE_APP_KEY to it`}. ` +
            "Or start with --drop-unreadable-secrets to delete those secrets (the connections they belong to must then be connected again).",
          500,
        );
      dropped = { kids: missing, ...(await dropSealedWith(driver, missing)) };
      c.log.warn("dropped the secrets sealed with app keys that are not configured (--drop-unreadable-secrets)", dropped);
    }
    let key = found;
    if (!key) {
      // only a store that holds nothing sealed gets a new key (what is left is readable by previous keys only)
      if ((await sealedKids(driver)).size)
        throw new GatewayError(
          "app_key_not_found",
          `no app key is configured (storage.app_key, $HUBGATE_APP_KEY) and ${keyFile} does not exist, but the store holds secrets sealed with storage.previous_app_keys; set the current key`,
          500,
        );
      // replicas sharing a PostgreSQL store must seal with one key: each would generate its own
      if (driver.backend === "postgres")
        throw new GatewayError(
          "app_key_not_found",
          `no app key is configured (storage.app_key, $HUBGATE_APP_KEY) and ${keyFile} does not exist. A store on PostgreSQL is shared by every replica, which must all seal with one key: give each the same storage.app_key (a secret reference) — none is generated`,
          500,
        );
      key = generateAppKey(c.dataDir, c.log);
    }
    const keyring = await Keyring.create(key.key, previous, (f) => logUnsealFailure(c.log, f));
    c.log.info("app key loaded", { source: key.source, kid: keyring.currentKid });
    return { keyring, dropped };
  }

  private static compileInput(l: LoadedConfig) {
    return { config: l.config, secrets: l.secrets, skipped: l.skipped, text: l.source.text, source: l.source.path ?? "embedded" };
  }

  /** The endpoints' upstream OpenAPI documents (files next to the config, URLs through the outbound client). */
  static loadDocuments(l: LoadedConfig, cache: DocumentCache): Promise<UpstreamDocuments> {
    return loadUpstreamDocuments(l.config, { configDir: l.source.path === null ? process.cwd() : dirname(l.source.path), cache });
  }

  /** What the table serves without (an upstream document that could not be used, a tool left out), and why. */
  private static logWarnings(log: Logger, table: RouteTable): void {
    for (const w of table.warnings) log.warn(w.message, { key: w.path });
  }

  private static configureLog(log: Logger, l: LoggingConfig): void {
    log.setLevel(l.level);
    log.setFormat(l.format);
  }

  private static warnLiterals(log: Logger, l: LoadedConfig): void {
    for (const path of l.literalPaths)
      log.warn("config holds a literal secret; prefer an env:, file:, k8s:, aws: or gcp: reference", { key: path });
  }

  /** The client's address: the socket peer, or the first X-Forwarded-For hop when server.trust_proxy is on. */
  clientAddress(request: Request): string {
    if (this.config.server.trust_proxy) {
      const xff = request.headers.get("x-forwarded-for")?.split(",")[0]?.trim();
      if (xff) return xff;
    }
    // a request belongs to one listener; the others answer null for it (a unix socket has no address)
    for (const s of this.servers) {
      const ip = s.requestIP(request);
      if (ip) return ip.address;
    }
    return "unknown";
  }

  /**
   * Event streams may stay quiet longer than server.idle_timeout (Bun's idle timer would cut them):
   * exempt the connection of a request whose response is one.
   */
  holdOpen(request: Request, response: Response): void {
    if ((response.headers.get("content-type") ?? "").toLowerCase().startsWith("text/event-stream")) for (const s of this.servers) s.timeout(request, 0);
  }

  /**
   * A management command that seals (connect, rekey) must seal with the key the server runs with, or
   * the server cannot read what it writes: refuses when its key is not the one `serve` last started with.
   */
  async assertServerKey(command: string): Promise<void> {
    const serving = await this.store.meta.get(SERVING_KID);
    if (serving !== null && serving !== this.keyring.currentKid)
      throw new GatewayError(
        "app_key_mismatch",
        `${command} would seal with app key ${this.keyring.currentKid}, but the server last started with key ${serving}, which could not read it. Give this command the server's key (its storage.app_key or $HUBGATE_APP_KEY); to rotate keys, restart the server with the new one first`,
        500,
      );
  }

  get config() {
    return this.routes.current().config;
  }

  /** Rebuild the table with facts known only after listen (bound address, own routes). */
  finishStartup(boundUrl: string, own: OwnRoute[]): void {
    this.boundUrl = boundUrl;
    this.own = own;
    const t = this.routes.current();
    this.routes.swap(compileRouteTable({ ...Gateway.compileInput(this.loaded), version: t.version, own, boundUrl, documents: this.startupDocuments ?? undefined }));
    this.startupDocuments = null;
    Gateway.releaseDocuments(t);
  }

  /** Whole upstream documents are garbage once compiled (tens of MB for GitHub's): collect them now rather than some time later. */
  private static releaseDocuments(table: RouteTable): void {
    if ([...table.endpoints.values()].some((e) => e.openapi !== null)) Bun.gc(true);
  }

  /** SIGHUP: re-read, validate, resolve, compile, swap. An invalid file keeps the old table. Concurrent calls share one run. */
  reload(): Promise<boolean> {
    this.reloading ??= this.doReload().finally(() => (this.reloading = null));
    return this.reloading;
  }

  private async doReload(): Promise<boolean> {
    const started = performance.now();
    const counter = this.metrics.counter("hubgate_config_reloads_total", "Config reloads by result");
    this.reloads.lastAt = Date.now();
    try {
      const loaded = await loadConfig(this.opts.configPath, this.opts.env, this.log, { secrets: this.opts.secrets });
      const documents = await Gateway.loadDocuments(loaded, this.documentCache);
      const prev = this.routes.current();
      const next = compileRouteTable({ ...Gateway.compileInput(loaded), version: prev.version + 1, own: this.own, boundUrl: this.boundUrl, documents });
      Gateway.logWarnings(this.log, next);
      this.warnRestartKeys(prev, next);
      Gateway.warnLiterals(this.log, loaded);
      Gateway.configureLog(this.log, loaded.config.logging);
      this.loaded = loaded;
      this.startupDocuments = null;
      this.routes.swap(next);
      Gateway.releaseDocuments(next);
      for (const hook of this.reloadHooks) await hook(next).catch((e: unknown) => this.log.error("reload hook failed", { err: e }));
      this.reloads.count++;
      this.reloads.lastResult = "ok";
      this.reloads.lastIssues = [];
      counter.inc({ result: "ok" });
      await this.store.audit.append({ kind: "config.reload", actor: "system", subject: next.source, detail: { version: next.version, config_hash: next.configHash } }).catch((e: unknown) => this.log.warn("audit event not recorded", { kind: "config.reload", err: e }));
      this.log.info("config reloaded", { version: next.version, config_hash: next.configHash.slice(0, 12), ms: Math.round(performance.now() - started) });
      return true;
    } catch (e) {
      const issues: ConfigIssue[] = e instanceof ConfigError ? e.issues : [{ path: "", message: e instanceof Error ? e.message : String(e) }];
      this.reloads.failures++;
      this.reloads.lastResult = "error";
      this.reloads.lastIssues = issues;
      counter.inc({ result: "error" });
      await this.store.audit.append({ kind: "config.reload_failed", actor: "system", detail: { errors: issues.length } }).catch((err: unknown) => this.log.warn("audit event not recorded", { kind: "config.reload_failed", err }));
      this.log.error("config reload failed; the previous configuration keeps serving", { errors: issues });
      this.log.error(formatIssues(issues));
      return false;
    }
  }

  private warnRestartKeys(prev: RouteTable, next: RouteTable): void {
    for (const path of RESTART_KEYS) {
      const [section, key] = path.split(".") as [keyof RouteTable["config"], string];
      const a = (prev.config[section] as Record<string, unknown>)[key];
      const b = (next.config[section] as Record<string, unknown>)[key];
      if (JSON.stringify(a) !== JSON.stringify(b)) this.log.warn("this key changed but only takes effect after a restart", { key: path });
    }
  }

  /**
   * Hand the store's lock to the caller: close() then leaves it held. The supervisor of several workers
   * prepares the store as `serve` does (lock, migrations, the app-key check), keeps the lock and closes
   * the rest; its workers open the store without a lock.
   */
  detachLock(): StoreLock | null {
    const lock = this.storeLock;
    this.storeLock = null;
    return lock;
  }

  async close(): Promise<void> {
    await this.requestLog.close();
    await this.state.close();
    try {
      await this.store.close();
    } finally {
      this.storeLock?.release(); // last: the store is closed before another serve may open it
    }
  }
}
