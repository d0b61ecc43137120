/** Config tests: what parseConfig says of a text. */
import { ConfigError, parseConfig, type ConfigIssue } from "../../src/config/index.ts";

/** The issues parseConfig reports for `toml` (none when it is accepted). */
export function configIssues(toml: string): ConfigIssue[] {
  try {
    parseConfig(toml);
    return [];
  } catch (e) {
    if (e instanceof ConfigError) return e.issues;
    throw e;
  }
}
