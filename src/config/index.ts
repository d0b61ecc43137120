/**
 * The whole config pipeline, in its three separate steps: read + parse + validate (load.ts), resolve
 * secret references (secrets.ts), then the caller compiles a route table (../routes/compile.ts).
 */
import { parseConfig, readConfigSource, type ConfigSource } from "./load.ts";
import { resolveConfigSecrets, type SecretFilter, type SecretValues } from "./secrets.ts";
import type { Config } from "./schema.ts";
import { createSecretResolver } from "../secrets/resolve.ts";
import { applyGithubEnv } from "../github/env.ts";
import type { Logger } from "../core/log.ts";
import { resolveConfigPaths } from "./paths.ts";
import { dirname } from "node:path";

export interface LoadedConfig {
  source: ConfigSource;
  config: Config;
  secrets: SecretValues;
  /** TOML paths of secrets written as literals in the file (warned about) */
  literalPaths: string[];
  /** secret slots deliberately left unresolved: the command that loaded the config does not use them */
  skipped: ReadonlySet<string>;
}

export interface LoadOptions {
  /** resolve only these secret slots (default: every one) */
  secrets?: SecretFilter;
  /** runs once the file is valid, before secrets are resolved (at start: the log's level and format, for the lines that follow) */
  validated?: (config: Config) => void;
}

export async function loadConfig(path: string | null, env: Record<string, string | undefined>, log?: Logger, opts: LoadOptions = {}): Promise<LoadedConfig> {
  const source = readConfigSource(path);
  // relative paths in the file mean "next to the file"; the embedded example has no file: the current directory
  const baseDir = source.path === null ? process.cwd() : dirname(source.path);
  const config = resolveConfigPaths(applyGithubEnv(parseConfig(source.text), env), baseDir);
  opts.validated?.(config);
  const resolver = createSecretResolver(config.secrets, { env, log, baseDir });
  const { values, literalPaths, skipped } = await resolveConfigSecrets(config, resolver, opts.secrets);
  return { source, config, secrets: values, literalPaths, skipped };
}

export { storeSecrets, connectionSecrets, type SecretFilter } from "./secrets.ts";
export { locateConfig, parseConfig, readConfigSource, formatIssues, ConfigError, EMBEDDED_EXAMPLE } from "./load.ts";
export type { Config } from "./schema.ts";
export type { ConfigIssue } from "./validate.ts";
