/**
 * Secret reference syntax. A value starting with a known scheme is a reference and must parse;
 * anything else is a literal (allowed, warned about at startup).
 *
 *   env:VAR
 *   file:/path/to/file                          (one trailing newline trimmed)
 *   k8s:namespace/secret:key                    (<k8s_root>/<namespace>/<secret>/<key>)
 *   aws:secretsmanager:<name-or-ARN>[:json-key]
 *   gcp:secretmanager:projects/P/secrets/S/versions/V
 */
import { GatewayError } from "../core/errors.ts";

export type ParsedRef =
  | { kind: "literal"; value: string }
  | { kind: "env"; name: string }
  | { kind: "file"; path: string }
  | { kind: "k8s"; namespace: string; secret: string; key: string }
  | { kind: "aws"; secretId: string; jsonKey: string | null; arnRegion: string | null }
  | { kind: "gcp"; resource: string };

const SCHEMES = ["env:", "file:", "k8s:", "aws:", "gcp:"];
/** a namespace, Secret name or data key: one path segment of a Secret mount, never `.`/`..` or anything with `..` */
const K8S_PART = /^[A-Za-z0-9._-]+$/;
const k8sPart = (s: string) => K8S_PART.test(s) && !s.includes("..") && s !== ".";

const bad = (ref: string, why: string) => new GatewayError("secret_unresolved", `${describeRef(ref)}: ${why}`, 500);

export function isReference(ref: string): boolean {
  return SCHEMES.some((s) => ref.startsWith(s));
}

/** A description safe for logs and errors: the reference itself, never a literal's value. */
export function describeRef(ref: string): string {
  return isReference(ref) ? ref : "a literal value";
}

export function parseSecretRef(ref: string): ParsedRef {
  if (!isReference(ref)) return { kind: "literal", value: ref };
  const colon = ref.indexOf(":");
  const scheme = ref.slice(0, colon);
  const rest = ref.slice(colon + 1);
  switch (scheme) {
    case "env":
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(rest)) throw bad(ref, "expected env:VARIABLE_NAME");
      return { kind: "env", name: rest };
    case "file":
      if (!rest) throw bad(ref, "expected file:/path");
      return { kind: "file", path: rest };
    case "k8s": {
      const m = /^([^/:]+)\/([^/:]+):([^/:]+)$/.exec(rest);
      if (!m) throw bad(ref, "expected k8s:namespace/secret:key");
      const [, namespace, secret, key] = m as unknown as [string, string, string, string];
      if (!k8sPart(namespace) || !k8sPart(secret) || !k8sPart(key))
        throw bad(ref, "namespace, secret and key may hold only A-Z a-z 0-9 . _ - (and no ..)");
      return { kind: "k8s", namespace, secret, key };
    }
    case "aws":
      return parseAws(ref, rest);
    case "gcp": {
      const m = /^secretmanager:(projects\/[^/]+\/secrets\/[^/]+\/versions\/[^/]+)$/.exec(rest);
      if (!m) throw bad(ref, "expected gcp:secretmanager:projects/P/secrets/S/versions/V");
      return { kind: "gcp", resource: m[1]! };
    }
  }
  throw bad(ref, "unknown scheme");
}

/** aws:secretsmanager:<name>[:key] or aws:secretsmanager:arn:aws:secretsmanager:<region>:<acct>:secret:<name>[:key] */
function parseAws(ref: string, rest: string): ParsedRef {
  if (!rest.startsWith("secretsmanager:")) throw bad(ref, "expected aws:secretsmanager:<name or ARN>[:json-key]");
  const body = rest.slice("secretsmanager:".length);
  if (body.startsWith("arn:")) {
    const parts = body.split(":");
    // arn : partition : secretsmanager : region : account : secret : name  (7 parts), then an optional key
    if (parts.length < 7 || parts[2] !== "secretsmanager" || parts[5] !== "secret" || !parts[6]) throw bad(ref, "malformed Secrets Manager ARN");
    const jsonKey = parts.length > 7 ? parts.slice(7).join(":") : null;
    if (jsonKey === "") throw bad(ref, "empty JSON key");
    return { kind: "aws", secretId: parts.slice(0, 7).join(":"), jsonKey, arnRegion: parts[3] || null };
  }
  const i = body.indexOf(":");
  const secretId = i < 0 ? body : body.slice(0, i);
  const jsonKey = i < 0 ? null : body.slice(i + 1);
  if (!secretId || jsonKey === "") throw bad(ref, "expected aws:secretsmanager:<name>[:json-key]");
  return { kind: "aws", secretId, jsonKey, arnRegion: null };
}
