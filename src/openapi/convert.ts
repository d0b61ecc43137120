/**
 * OpenAPI 3.0 → 3.1, for the parts hubgate passes on: the generated documents are 3.1, whose schemas
 * are JSON Schema 2020-12, so 3.0's `nullable` and boolean `exclusiveMinimum`/`exclusiveMaximum` are
 * rewritten. The walk knows where schemas are (parameters, media types, headers, components), so
 * example data is copied as it is. Returns new objects; the input is not changed.
 */
import { isObject, type JsonObject } from "./types.ts";

const SCHEMA_MAPS = ["properties", "patternProperties", "$defs", "definitions", "dependentSchemas"];
const SCHEMA_LISTS = ["allOf", "anyOf", "oneOf", "prefixItems"];
const SCHEMA_ONE = ["not", "additionalProperties", "contains", "if", "then", "else", "propertyNames", "unevaluatedProperties", "unevaluatedItems", "additionalItems"];

export function convertSchema(s: unknown): unknown {
  if (!isObject(s)) return s;
  const out: JsonObject = { ...s };
  for (const k of SCHEMA_MAPS) if (isObject(s[k])) out[k] = mapValues(s[k], convertSchema);
  for (const k of SCHEMA_LISTS) if (Array.isArray(s[k])) out[k] = (s[k] as unknown[]).map(convertSchema);
  for (const k of SCHEMA_ONE) if (isObject(s[k])) out[k] = convertSchema(s[k]);
  if (Array.isArray(s.items)) out.items = s.items.map(convertSchema);
  else if (isObject(s.items)) out.items = convertSchema(s.items);
  for (const [bound, flag] of [["minimum", "exclusiveMinimum"], ["maximum", "exclusiveMaximum"]] as const) {
    if (typeof s[flag] !== "boolean") continue;
    if (s[flag] === true && typeof s[bound] === "number") {
      out[flag] = s[bound];
      delete out[bound];
    } else delete out[flag];
  }
  if ("nullable" in out) {
    const nullable = out.nullable === true;
    delete out.nullable;
    if (nullable) return nullableOf(out);
  }
  return out;
}

function nullableOf(s: JsonObject): JsonObject {
  if (typeof s.type === "string") {
    const out: JsonObject = { ...s, type: [s.type, "null"] };
    if (Array.isArray(s.enum) && !s.enum.includes(null)) out.enum = [...s.enum, null];
    return out;
  }
  if (Array.isArray(s.type)) return s.type.includes("null") ? s : { ...s, type: [...s.type, "null"] };
  return { anyOf: [s, { type: "null" }] };
}

function mapValues(o: JsonObject, f: (v: unknown) => unknown): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(o)) out[k] = f(v);
  return out;
}

function convertContent(c: unknown): unknown {
  if (!isObject(c)) return c;
  return mapValues(c, (mt) => {
    if (!isObject(mt)) return mt;
    const out: JsonObject = { ...mt };
    if ("schema" in mt) out.schema = convertSchema(mt.schema);
    if (isObject(mt.encoding))
      out.encoding = mapValues(mt.encoding, (enc) => (isObject(enc) && isObject(enc.headers) ? { ...enc, headers: mapValues(enc.headers, convertParameter) } : enc));
    return out;
  });
}

/** A parameter or a header (same shape). */
export function convertParameter(p: unknown): unknown {
  if (!isObject(p) || "$ref" in p) return p;
  const out: JsonObject = { ...p };
  if ("schema" in p) out.schema = convertSchema(p.schema);
  if ("content" in p) out.content = convertContent(p.content);
  return out;
}

export function convertResponse(r: unknown): unknown {
  if (!isObject(r) || "$ref" in r) return r;
  const out: JsonObject = { ...r };
  if (isObject(r.headers)) out.headers = mapValues(r.headers, convertParameter);
  if ("content" in r) out.content = convertContent(r.content);
  return out;
}

export function convertRequestBody(b: unknown): unknown {
  if (!isObject(b) || "$ref" in b) return b;
  return "content" in b ? { ...b, content: convertContent(b.content) } : { ...b };
}

export function convertOperation(op: JsonObject): JsonObject {
  const out: JsonObject = { ...op };
  if (Array.isArray(op.parameters)) out.parameters = op.parameters.map(convertParameter);
  if ("requestBody" in op) out.requestBody = convertRequestBody(op.requestBody);
  if (isObject(op.responses)) out.responses = mapValues(op.responses, convertResponse);
  return out;
}

const COMPONENT_CONVERTERS: Record<string, (v: unknown) => unknown> = {
  schemas: convertSchema,
  parameters: convertParameter,
  headers: convertParameter,
  responses: convertResponse,
  requestBodies: convertRequestBody,
};

export function convertComponent(kind: string, v: unknown): unknown {
  const f = COMPONENT_CONVERTERS[kind];
  return f ? f(v) : v;
}
