/**
 * The 2026-07-28 Streamable HTTP request metadata headers, checked against the JSON-RPC body before
 * anything is forwarded: `MCP-Protocol-Version`, `Mcp-Method`, `Mcp-Name` and `Mcp-Param-*`.
 * Something in front of or behind the gateway may route, rate-limit or log on a header while the
 * server acts on the body, so the two must agree; a disagreement, or a required header missing or
 * malformed, is HeaderMismatch (-32020), answered with 400.
 *
 * Values that are not printable ASCII travel as `=?base64?<base64 of the UTF-8>?=`; `Mcp-Name` is
 * decoded before it is compared. `Mcp-Param-*` values are decoded too and refused when they do not
 * decode; comparing them with the body needs the tool's `x-mcp-header` declarations, which only the
 * upstream holds, so that comparison is the upstream's.
 */
import type { RpcMessage } from "./filter.ts";

export const HEADER_MISMATCH = -32020;

/** The first protocol revision with per-request metadata and the routing headers. */
const FIRST_MODERN_VERSION = "2026-07-28";
const PROTOCOL_VERSION_META = "io.modelcontextprotocol/protocolVersion";

/** Which body field `Mcp-Name` mirrors, per method (the spec's table, and the tasks binding for params.taskId). */
const NAME_SOURCE: Readonly<Record<string, "name" | "uri" | "taskId">> = {
  "tools/call": "name",
  "prompts/get": "name",
  "resources/read": "uri",
  "tasks/get": "taskId",
  "tasks/update": "taskId",
  "tasks/cancel": "taskId",
};

const SENTINEL_PREFIX = "=?base64?";
const SENTINEL_SUFFIX = "?=";
const CANONICAL_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/** What a client may send unencoded: printable ASCII and horizontal tab. */
const PLAIN = /^[\t\x20-\x7e]*$/;
const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * One `Mcp-Name` or `Mcp-Param-*` value as the string it stands for: a `=?base64?…?=` value decoded
 * (canonical, padded base64 of valid UTF-8), a plain value as it is. `null` when it is neither: bad
 * base64, bytes that are not UTF-8, or characters outside printable ASCII sent unencoded.
 */
export function decodeHeaderValue(value: string): string | null {
  if (value.length >= SENTINEL_PREFIX.length + SENTINEL_SUFFIX.length && value.startsWith(SENTINEL_PREFIX) && value.endsWith(SENTINEL_SUFFIX)) {
    const b64 = value.slice(SENTINEL_PREFIX.length, -SENTINEL_SUFFIX.length);
    if (!CANONICAL_BASE64.test(b64)) return null;
    try {
      return utf8.decode(Buffer.from(b64, "base64"));
    } catch {
      return null;
    }
  }
  return PLAIN.test(value) ? value : null;
}

const isModern = (version: unknown): boolean => typeof version === "string" && /^\d{4}-\d{2}-\d{2}$/.test(version) && version >= FIRST_MODERN_VERSION;

export interface HeaderRefusal {
  code: typeof HEADER_MISMATCH;
  message: string;
}

const refuse = (message: string): HeaderRefusal => ({ code: HEADER_MISMATCH, message: `Header mismatch: ${message}` });

/**
 * The request's metadata headers against its parsed body (`null`: not JSON). Presence is required
 * only of a 2026-07-28 (or later) request — its body's `_meta` claims that revision, or its
 * `MCP-Protocol-Version` header names it — and only for requests, not notifications; a header that
 * is present must agree with the body whatever the revision. `Mcp-Name` on a method that mirrors
 * nothing is not looked at (as the SDK's server does).
 */
export function checkRequestHeaders(headers: Headers, body: RpcMessage | RpcMessage[] | null): HeaderRefusal | null {
  for (const [name, value] of headers) if (name.startsWith("mcp-param-") && decodeHeaderValue(value) === null) return refuse(`${name} is not a valid value (printable ASCII, or =?base64?…?= of UTF-8)`);
  const hVersion = headers.get("mcp-protocol-version");
  const hMethod = headers.get("mcp-method");
  const hName = headers.get("mcp-name");
  if (body === null || Array.isArray(body) || typeof body !== "object") {
    return hMethod !== null || hName !== null ? refuse("Mcp-Method / Mcp-Name sent with a body that is not one JSON-RPC message") : null;
  }
  const meta = body.params?._meta;
  const claimed = typeof meta === "object" && meta !== null ? (meta as Record<string, unknown>)[PROTOCOL_VERSION_META] : undefined;
  if (typeof claimed === "string" && hVersion !== null && hVersion !== claimed) return refuse(`MCP-Protocol-Version ${JSON.stringify(hVersion)} does not match the body's ${JSON.stringify(claimed)}`);
  const required = (isModern(claimed) || isModern(hVersion)) && typeof body.method === "string" && body.id !== undefined && body.id !== null;
  if (required && hVersion === null) return refuse("the MCP-Protocol-Version header is required");
  if (required && hMethod === null) return refuse("the Mcp-Method header is required");
  if (hMethod !== null && hMethod !== body.method) return refuse(`Mcp-Method ${JSON.stringify(hMethod)} does not match the body's method ${JSON.stringify(body.method ?? null)}`);

  const field = typeof body.method === "string" && Object.hasOwn(NAME_SOURCE, body.method) ? NAME_SOURCE[body.method] : undefined;
  if (field === undefined) return null;
  const raw = body.params?.[field];
  const bodyValue = typeof raw === "string" ? raw : undefined;
  if (hName === null) return required && bodyValue !== undefined ? refuse(`the Mcp-Name header is required for ${body.method}`) : null;
  const decoded = decodeHeaderValue(hName);
  if (decoded === null) return refuse("Mcp-Name is not a valid value (printable ASCII, or =?base64?…?= of UTF-8)");
  if (decoded !== bodyValue) return refuse(`Mcp-Name ${JSON.stringify(decoded)} does not match the body's params.${field} ${JSON.stringify(bodyValue ?? null)}`);
  return null;
}
