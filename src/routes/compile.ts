/** validated config + resolved secrets + loaded upstream documents → RouteTable. Pure: no I/O, no secret resolution. */
import { sha256 } from "../crypto/hash.ts";
import { DEFAULT_PORT } from "../server/model.ts";
import type { Config } from "../config/schema.ts";
import type { SecretValues } from "../config/secrets.ts";
import { compileEndpoints } from "../endpoints/compile.ts";
import { compileMcpUpstreams } from "../mcp/compile.ts";
import { compileConfigTokens } from "../tokens/compile.ts";
import { compileGithub } from "../github/compile.ts";
import { compileConnections } from "../oauth/compile.ts";
import type { OwnRoute, RouteTable } from "./table.ts";
import type { UpstreamDocuments } from "../openapi/load.ts";
import type { ConfigIssue } from "../config/validate.ts";

export interface CompileInput {
  config: Config;
  secrets: SecretValues;
  text: string;
  source: string;
  version: number;
  own: readonly OwnRoute[];
  /** the address actually bound, used for the default public URL */
  boundUrl?: string;
  /** secret slots left unresolved on purpose (a management command): what needs them is left out */
  skipped?: ReadonlySet<string>;
  /** the endpoints' upstream OpenAPI documents, loaded beforehand (src/openapi/load.ts) */
  documents?: UpstreamDocuments;
}

export function compileRouteTable(input: CompileInput): RouteTable {
  const { config } = input;
  const s = config.server;
  const fallback = input.boundUrl ?? `http://${s.host === "0.0.0.0" || s.host === "::" ? "localhost" : s.host}:${s.port ?? DEFAULT_PORT}`;
  const publicUrl = new URL(s.public_url ?? fallback);
  const warnings: ConfigIssue[] = [];
  const endpoints = compileEndpoints(config, input.secrets, input.documents, warnings, input.skipped);
  return {
    version: input.version,
    builtAt: Date.now(),
    configHash: sha256(input.text),
    source: input.source,
    config,
    secrets: input.secrets,
    publicUrl,
    own: input.own,
    endpoints,
    warnings,
    projects: new Set(config.projects.map((p) => p.id)),
    apiTokens: compileConfigTokens(config, input.secrets, input.skipped),
    github: compileGithub(config, input.secrets),
    connections: compileConnections(config, input.secrets),
    mcpUpstreams: compileMcpUpstreams(config),
  };
}
