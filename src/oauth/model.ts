/** TypeBox model of [[oauth_connections]]: OAuth clients hubgate runs against upstream providers. */
import { Type, type Static } from "@sinclair/typebox";
import { SecretRef, Section, HttpUrl } from "../config/types.ts";

export const OAuthConnection = Section(
  {
    name: Type.String({ pattern: "^[A-Za-z0-9_.-]+$", description: "Connection name, referenced by endpoints and MCP upstreams" }),
    preset: Type.Optional(Type.String({ minLength: 1, description: "Provider preset from config/oauth-presets.toml (github, google, slack, …); any field below overrides it" })),
    authorization_url: Type.Optional(HttpUrl("Provider authorize endpoint")),
    token_url: Type.Optional(HttpUrl("Provider token endpoint")),
    revocation_url: Type.Optional(HttpUrl("Provider revocation endpoint (RFC 7009), used on disconnect")),
    scopes: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { description: "Scopes requested (default: the preset's)" })),
    client_id: Type.Optional(Type.String({ minLength: 1, description: "OAuth client id registered with the provider" })),
    client_secret: Type.Optional(SecretRef("OAuth client secret (secret reference)")),
    token_auth_method: Type.Optional(
      Type.Union([Type.Literal("client_secret_post"), Type.Literal("client_secret_basic"), Type.Literal("none")], {
        description: "How the client authenticates at the token endpoint (default: the preset's, else client_secret_post)",
      }),
    ),
    extra_authorize_params: Type.Optional(Type.Record(Type.String(), Type.String(), { description: "Extra authorize parameters, e.g. access_type = \"offline\"" })),
    pkce: Type.Optional(Type.Boolean({ description: "Use PKCE (S256); default: the preset's, else true" })),
    scope_separator: Type.Optional(Type.String({ minLength: 1, maxLength: 1, description: "Separator of scopes in the authorize request (default \" \"; Slack and Linear use \",\")" })),
    token_request: Type.Optional(Type.Union([Type.Literal("form"), Type.Literal("json")], { description: "Body format of token requests (default form; Notion: json)" })),
    allow_private: Type.Boolean({ default: false, description: "Allow the token and revocation endpoints on a private/loopback address (an identity provider inside your network, tests)" }),
    token_response_path: Type.Optional(Type.String({ minLength: 1, description: "Key holding the token object in the token response (Slack user tokens: authed_user)" })),
  },
  "An OAuth connection to an upstream provider",
);

export const OAuthConnections = Type.Array(OAuthConnection, { default: [], description: "OAuth connections" });
export type OAuthConnectionConfig = Static<typeof OAuthConnection>;
