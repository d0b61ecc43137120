/**
 * The little of OpenAPI 3.x that hubgate reads itself. Upstream documents are parsed JSON/YAML of
 * unknown trust, so everything is `unknown` until a guard narrows it; what is passed through is kept
 * as plain JSON objects.
 */

export type JsonObject = Record<string, unknown>;

/** The operation keys of a path item, lower-case as OpenAPI writes them. */
export const OPERATION_METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"] as const;

export const COMPONENT_KINDS = ["schemas", "responses", "parameters", "examples", "requestBodies", "headers", "securitySchemes", "links", "callbacks", "pathItems"] as const;
export type ComponentKind = (typeof COMPONENT_KINDS)[number];
export type Components = Partial<Record<ComponentKind, Readonly<Record<string, unknown>>>>;

export interface OpenApiDocument extends JsonObject {
  openapi: string;
  info?: JsonObject;
  servers?: unknown;
  paths?: Record<string, unknown>;
  components?: Record<string, unknown>;
}

export function isObject(v: unknown): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function asObject(v: unknown): JsonObject | undefined {
  return isObject(v) ? v : undefined;
}

export function asString(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

/** A local component reference `#/components/<kind>/<name>[/…]`, split; null for anything else. */
export function componentRef(ref: string): { kind: string; name: string; rest: string } | null {
  const m = /^#\/components\/([^/]+)\/([^/]+)(\/.*)?$/.exec(ref);
  if (!m) return null;
  return { kind: m[1]!, name: decodePointer(m[2]!), rest: m[3] ?? "" };
}

export function decodePointer(seg: string): string {
  return seg.replace(/~1/g, "/").replace(/~0/g, "~");
}

export function encodePointer(seg: string): string {
  return seg.replace(/~/g, "~0").replace(/\//g, "~1");
}
