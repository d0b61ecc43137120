/**
 * The whole config pipeline, in its three separate steps: read + parse + validate (load.ts), resolve
 * secret references (secrets.ts), then the caller compiles a route table (../routes/compile.ts).
 */
import { parseConfig, readConfigSource, type ConfigSource } from "./load.ts";
import { resolveConfigSecrets, type SecretValues } from "./secrets.ts";
import type { Config } from "./schema.ts";
import { createSecretResolver } from "../secrets/resolve.ts";
import { applyGithubEnv } from "../github/env.ts";
import type { Logger } from "../core/log.ts";

export interface LoadedConfig {
  source: ConfigSource;
  config: Config;
  secrets: SecretValues;
  /** TOML paths of secrets written as literals in the file (warned about) */
  literalPaths: string[];
}

/** `validated` runs once the file is valid, before secrets are resolved (at start: the log's level and format, for the lines that follow). */
export async function loadConfig(path: string | null, env: Record<string, string | undefined>, log?: Logger, validated?: (config: Config) => void): Promise<LoadedConfig> {
  const source = readConfigSource(path);
  const config = applyGithubEnv(parseConfig(source.text), env);
  validated?.(config);
  const resolver = createSecretResolver(config.secrets, { env, log });
  const { values, literalPaths } = await resolveConfigSecrets(config, resolver);
  return { source, config, secrets: values, literalPaths };
}

export { locateConfig, parseConfig, formatIssues, ConfigError, EMBEDDED_EXAMPLE } from "./load.ts";
export type { Config } from "./schema.ts";
export type { ConfigIssue } from "./validate.ts";
