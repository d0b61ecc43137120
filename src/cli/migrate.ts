/**
 * `hubgate store migrate`: moves the store a config names (the embedded SQLite file) into PostgreSQL
 * with one command. The target is migrated to the same schema, then every table is copied in one
 * transaction (src/store/copy.ts), sealed values as they are — the same app key opens them there. The
 * server must be stopped: for a SQLite store the command takes the store's lock for the copy, so a
 * running `serve` (whose later writes would not be moved) makes it refuse. Then the operator switches
 * [storage] backend and url, and starts the replicas with the same app key.
 */
import { dirname } from "node:path";
import { Gateway } from "../root/gateway.ts";
import { locateConfig, storeSecrets } from "../config/index.ts";
import { GatewayError, isGatewayError } from "../core/errors.ts";
import { createSecretResolver } from "../secrets/resolve.ts";
import { describeRef, isReference } from "../secrets/refs.ts";
import { acquireStoreLock, type StoreLock } from "../store/lock.ts";
import { openDriver, storeOn, type Driver } from "../store/index.ts";
import { describePostgresUrl, postgresUrlProblem } from "../store/postgres.ts";
import { copyStore } from "../store/copy.ts";
import { cliLogger, Table } from "./output.ts";
import type { Values } from "./spec.ts";

const env = process.env as Record<string, string | undefined>;

export async function storeMigrate(values: Values): Promise<number> {
  const configPath = locateConfig(typeof values.config === "string" ? values.config : undefined, env).path;
  const to = String(values.to);
  const log = cliLogger();
  const gw = await Gateway.start({ configPath, env, role: "manage", secrets: storeSecrets, log });
  let lock: StoreLock | null = null;
  let target: Driver | null = null;
  try {
    // a secret reference (env:, file:, …) or the URL itself, resolved as the config's references are
    const resolver = createSecretResolver(gw.config.secrets, { env, baseDir: configPath === null ? process.cwd() : dirname(configPath) });
    const url = await resolver.resolve(to);
    const problem = postgresUrlProblem(url);
    if (problem) throw new GatewayError("invalid_request", `--to ${describeRef(to)}: ${problem}`, 400);
    const where = describePostgresUrl(url);
    if (gw.store.backend === "postgres" && gw.store.location === where) throw new GatewayError("invalid_request", `--to names the store this config already uses (${where})`, 400);
    if (gw.store.backend === "sqlite") {
      try {
        lock = acquireStoreLock(gw.store.location);
      } catch (e) {
        if (isGatewayError(e) && e.code === "store_locked")
          throw new GatewayError("store_locked", `${e.message.replace(/; stop it first.*$/, "")}: stop the server first — what it writes after the copy would not be moved`, 500);
        throw e;
      }
    }
    target = await openDriver({ backend: "postgres", url, poolSize: 2 }, log, { create: true });
    const rows = await copyStore(gw.store.driver, target, { force: values.force === true, requestLog: values["request-log"] === true });
    await storeOn(target, gw.keyring).audit.append({ kind: "store.migrated", actor: "cli", detail: { from: gw.store.backend, rows } });
    new Table(["TABLE", "ROWS"]).print(Object.entries(rows).map(([t, n]) => [t, String(n)]));
    const total = Object.values(rows).reduce((a, b) => a + b, 0);
    process.stderr.write(
      `copied ${total} row(s) from ${gw.store.location} to ${where}${values["request-log"] === true ? "" : " (the request log stays behind; --request-log copies it)"}; sealed values are as they were, sealed with app key ${gw.keyring.currentKid}.\n` +
        `next: in ${configPath ?? "the config"} set [storage] backend = "postgres" and url = ${isReference(to) ? `"${to}"` : "a secret reference to that URL (env:…, file:…)"}, then start the gateway(s) with the same app key\n`,
    );
    return 0;
  } finally {
    await target?.close();
    lock?.release();
    await gw.close();
  }
}
