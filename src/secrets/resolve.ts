/**
 * Resolving secret references to values. Errors are GatewayError("secret_unresolved") whose message
 * names the reference and the reason — never a value, never a credential.
 */
import { readFileSync } from "node:fs";
import { join, resolve as resolvePath } from "node:path";
import { isGatewayError } from "../core/errors.ts";
import type { Logger } from "../core/log.ts";
import { guardedFetch } from "../proxy/outbound.ts";
import { durationMs } from "../config/types.ts";
import type { SecretsConfig } from "./model.ts";
import { describeRef, parseSecretRef, isReference } from "./refs.ts";
import { AwsClient } from "./aws.ts";
import { GcpClient } from "./gcp.ts";
import { ResolveError, unresolved, type Fetch } from "./http.ts";

export interface SecretResolver {
  resolve(ref: string): Promise<string>;
  isLiteral(ref: string): boolean;
}

export interface ResolverDeps {
  env?: Record<string, string | undefined>;
  fetch?: Fetch;
  log?: Logger;
  now?: () => number;
  /** what a relative `file:` path is relative to: the config file's directory (default: the current directory) */
  baseDir?: string;
}

const trimNewline = (s: string) => s.replace(/\r?\n$/, "");

/**
 * Cloud secret calls go through the guarded outbound client. allow_private is on: the instance metadata
 * and ECS credential endpoints are link-local by design, and every URL here comes from [secrets] or
 * the cloud's own environment variables, never from a client. Pinned connection, 1 MiB limit.
 */
const SECRETS_FETCH: Fetch = guardedFetch({ allowPrivate: true, maxBytes: 1 << 20 });

export function createSecretResolver(opts: SecretsConfig, deps: ResolverDeps = {}): SecretResolver {
  const env = deps.env ?? {};
  const base = { opts, env, fetch: deps.fetch ?? SECRETS_FETCH, timeoutMs: durationMs(opts.timeout), now: deps.now ?? Date.now, log: deps.log };
  let aws: AwsClient | null = null;
  let gcp: GcpClient | null = null;

  async function resolveRef(ref: string): Promise<string> {
    const r = parseSecretRef(ref);
    switch (r.kind) {
      case "literal":
        return r.value;
      case "env": {
        const v = env[r.name];
        if (v === undefined || v === "") throw unresolved(ref, "the environment variable is not set");
        return v;
      }
      case "file":
        return readText(ref, resolvePath(deps.baseDir ?? process.cwd(), r.path));
      case "k8s":
        return readText(ref, join(opts.k8s_root, r.namespace, r.secret, r.key), "is the Secret mounted there? ([secrets] k8s_root)");
      case "aws": {
        aws ??= new AwsClient(base);
        const region = aws.region(r.arnRegion);
        if (!region) throw unresolved(ref, "no AWS region (set [secrets] aws_region or AWS_REGION)");
        const value = await aws.getSecretValue(r.secretId, region);
        return r.jsonKey === null ? value : jsonKey(ref, value, r.jsonKey);
      }
      case "gcp":
        gcp ??= new GcpClient(base);
        return gcp.access(r.resource);
    }
  }

  return {
    isLiteral: (ref) => !isReference(ref),
    async resolve(ref) {
      try {
        const v = await resolveRef(ref);
        deps.log?.debug("secret resolved", { ref: describeRef(ref) });
        return v;
      } catch (e) {
        // only messages this module wrote are passed on: another error's text might quote a value
        const err = isGatewayError(e) ? e : unresolved(describeRef(ref), e instanceof ResolveError ? e.message : `failed (${e instanceof Error ? e.name : "error"})`);
        deps.log?.debug("secret unresolved", { ref: describeRef(ref), reason: err.message });
        throw err;
      }
    },
  };
}

function readText(ref: string, path: string, hint = ""): string {
  try {
    return trimNewline(readFileSync(path, "utf8"));
  } catch (e) {
    const code = (e as { code?: string }).code;
    throw unresolved(ref, `${code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : "unreadable"}: ${path}${hint ? ` — ${hint}` : ""}`);
  }
}

function jsonKey(ref: string, value: string, key: string): string {
  let obj: unknown;
  try {
    obj = JSON.parse(value);
  } catch {
    throw unresolved(ref, "the secret is not a JSON object, so a key cannot be selected");
  }
  if (typeof obj !== "object" || obj === null || Array.isArray(obj)) throw unresolved(ref, "the secret is not a JSON object, so a key cannot be selected");
  if (!Object.hasOwn(obj, key)) throw unresolved(ref, `the secret has no key "${key}"`);
  const v = (obj as Record<string, unknown>)[key];
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  throw unresolved(ref, `the key "${key}" is not a string, number or boolean`);
}
