/**
 * The whole gateway.toml model, assembled from each feature's section model. Unknown keys are
 * errors at every level (each Section sets additionalProperties: false).
 */
import { Type, type Static } from "@sinclair/typebox";
import { AdminSection, LoggingSection, ServerSection, StorageSection } from "../server/model.ts";
import { SecretsSection } from "../secrets/model.ts";
import { GithubSection } from "../github/model.ts";
import { OAuthConnections } from "../oauth/model.ts";
import { Projects } from "../endpoints/model.ts";
import { McpSection } from "../mcp/model.ts";
import { StateSection } from "../state/model.ts";

export const ConfigSchema = Type.Object(
  {
    server: ServerSection,
    storage: StorageSection,
    state: StateSection,
    logging: LoggingSection,
    admin: AdminSection,
    secrets: SecretsSection,
    github: GithubSection,
    oauth_connections: OAuthConnections,
    projects: Projects,
    mcp: McpSection,
  },
  { additionalProperties: false },
);

export type Config = Static<typeof ConfigSchema>;
