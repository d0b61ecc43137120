/**
 * Provider presets: data in config/oauth-presets.toml, embedded in the binary, parsed and validated
 * once at startup like the config itself (a broken preset file fails loudly, never at connect time).
 */
import { parse } from "smol-toml";
import { Type, type Static } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import PRESETS_TEXT from "../../config/oauth-presets.toml" with { type: "text" };

export const Preset = Type.Object(
  {
    authorization_url: Type.String({ minLength: 1 }),
    token_url: Type.String({ minLength: 1 }),
    revocation_url: Type.Optional(Type.String({ minLength: 1 })),
    scopes: Type.Array(Type.String()),
    scope_separator: Type.Optional(Type.String({ minLength: 1, maxLength: 1 })),
    token_auth_method: Type.Optional(Type.Union([Type.Literal("client_secret_post"), Type.Literal("client_secret_basic"), Type.Literal("none")])),
    token_request: Type.Optional(Type.Union([Type.Literal("form"), Type.Literal("json")])),
    token_response_path: Type.Optional(Type.String({ minLength: 1 })),
    extra_authorize_params: Type.Optional(Type.Record(Type.String(), Type.String())),
    pkce: Type.Optional(Type.Boolean()),
    docs: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);
export type Preset = Static<typeof Preset>;

export function parsePresets(text: string): ReadonlyMap<string, Preset> {
  const raw = parse(text) as Record<string, unknown>;
  const out = new Map<string, Preset>();
  for (const [name, value] of Object.entries(raw)) {
    const errors = [...Value.Errors(Preset, value)];
    if (errors.length) throw new Error(`oauth-presets.toml: [${name}]${errors[0]!.path.replace(/\//g, ".")}: ${errors[0]!.message}`);
    out.set(name, value as Preset);
  }
  return out;
}

export const PRESETS: ReadonlyMap<string, Preset> = parsePresets(PRESETS_TEXT);
