/**
 * An upstream operation as an MCP tool: its parameters and request body become one JSON Schema object
 * (each parameter an argument by its name, the body the argument `body`), its success response's JSON
 * schema the output schema when that is an object (MCP requires one), its `required` lists dropped. Component schemas are carried
 * along as `$defs`, so each schema stands alone; OpenAPI-only keywords are dropped.
 */
import { asObject, asString, componentRef, isObject, type Components, type JsonObject } from "./types.ts";
import type { SelectedOperation } from "./select.ts";

/** how a tool's arguments become the request */
export interface ToolBinding {
  readonly params: readonly { readonly arg: string; readonly name: string; readonly in: "path" | "query" | "header"; readonly explode: boolean }[];
  readonly body?: { readonly arg: string; readonly contentType: string };
}

export interface OperationTool {
  /** from the operationId (or method and path), reduced to [A-Za-z0-9_-], at most 64 characters */
  readonly name: string;
  readonly description: string;
  readonly inputSchema: JsonObject;
  readonly outputSchema?: JsonObject;
  readonly binding: ToolBinding;
}

/** Tools made from OpenAPI operations, per project (MCP clients degrade with many more; narrow with `operations`). */
export const MAX_OPENAPI_TOOLS_PER_PROJECT = 128;
/** Schema-size limit of one tool, input and output each (serialised JSON). */
export const MAX_TOOL_SCHEMA_BYTES = 64 * 1024;

const DROP = new Set(["discriminator", "xml", "externalDocs", "example"]);
const NAME_MAPS = new Set(["properties", "patternProperties", "$defs", "definitions", "dependentSchemas"]);
const DATA = new Set(["enum", "const", "default", "examples"]);

export function toolName(op: SelectedOperation): string {
  const raw = op.operationId ?? `${op.method.toLowerCase()}_${op.path}`;
  const name = raw.replace(/[^A-Za-z0-9_-]+/g, "_").replace(/^_+|_+$/g, "").slice(0, 64);
  return name || op.method.toLowerCase();
}

/** The tool, or the reason the operation cannot be one (the caller says which operation). */
export function operationTool(op: SelectedOperation, components: Components): { tool: OperationTool; warning?: string } | { error: string } {
  const o = op.operation;
  const properties: JsonObject = {};
  const required: string[] = [];
  const defs = new Map<string, unknown>();
  const params: { arg: string; name: string; in: "path" | "query" | "header"; explode: boolean }[] = [];
  for (const raw of Array.isArray(o.parameters) ? o.parameters : []) {
    const p = resolve(raw, "parameters", components);
    const name = asString(p?.name);
    const where = asString(p?.in);
    if (!p || name === undefined || (where !== "path" && where !== "query" && where !== "header")) continue;
    const arg = properties[name] === undefined ? name : `${where}_${name}`;
    const schema = p.schema ?? firstContentSchema(p.content) ?? {};
    properties[arg] = describe(toJsonSchema(schema, components, defs), asString(p.description));
    if (p.required === true || where === "path") required.push(arg);
    params.push({ arg, name, in: where, explode: p.explode !== false });
  }
  let body: ToolBinding["body"];
  if (o.requestBody !== undefined) {
    const b = resolve(o.requestBody, "requestBodies", components);
    const content = asObject(b?.content) ?? {};
    const type = Object.keys(content).find((t) => /^application\/([\w.+-]+\+)?json\b/i.test(t));
    if (type === undefined) {
      if (Object.keys(content).length) return { error: `its request body is ${Object.keys(content).join(", ")}; tools send JSON` };
    } else {
      const arg = properties.body === undefined ? "body" : "requestBody";
      properties[arg] = describe(toJsonSchema(asObject(content[type])?.schema ?? {}, components, defs), asString(b?.description));
      if (b?.required === true) required.push(arg);
      body = { arg, contentType: type };
    }
  }
  const inputSchema: JsonObject = { type: "object", properties, ...(required.length ? { required } : {}), ...withDefs(defs) };
  const inputBytes = JSON.stringify(inputSchema).length;
  if (inputBytes > MAX_TOOL_SCHEMA_BYTES) return { error: `its input schema is ${inputBytes} bytes, over the limit of ${MAX_TOOL_SCHEMA_BYTES}` };

  let warning: string | undefined;
  let outputSchema: JsonObject | undefined;
  const success = successSchema(o, components);
  if (success !== undefined) {
    const outDefs = new Map<string, unknown>();
    // without `required`: upstream answers often leave out properties their documents require (GitHub's own
    // examples do), and an MCP client refuses a result that does not match the output schema
    const top = asObject(toJsonSchema(inlineTop(success, components), components, outDefs, { dropRequired: true }));
    if (top && (top.type === "object" || (top.type === undefined && isObject(top.properties)))) {
      const candidate: JsonObject = { ...top, type: "object", ...withDefs(outDefs) };
      const bytes = JSON.stringify(candidate).length;
      if (bytes <= MAX_TOOL_SCHEMA_BYTES) outputSchema = candidate;
      else warning = `its output schema is ${bytes} bytes, over the limit of ${MAX_TOOL_SCHEMA_BYTES}: the tool has no output schema`;
    }
  }
  const description = asString(o.summary) ?? asString(o.description)?.slice(0, 1000) ?? `${op.method} ${op.path}`;
  return {
    tool: { name: toolName(op), description, inputSchema, ...(outputSchema ? { outputSchema } : {}), binding: { params, ...(body ? { body } : {}) } },
    ...(warning ? { warning } : {}),
  };
}

function describe(schema: unknown, description: string | undefined): unknown {
  if (description === undefined || !isObject(schema) || schema.description !== undefined) return schema;
  return { ...schema, description };
}

function withDefs(defs: Map<string, unknown>): JsonObject {
  return defs.size ? { $defs: Object.fromEntries(defs) } : {};
}

function resolve(v: unknown, kind: string, components: Components, depth = 0): JsonObject | undefined {
  const o = asObject(v);
  if (!o || typeof o.$ref !== "string") return o;
  const r = componentRef(o.$ref);
  if (!r || r.kind !== kind || r.rest || depth > 8) return undefined;
  return resolve(asObject(components[kind as keyof Components])?.[r.name], kind, components, depth + 1);
}

function firstContentSchema(content: unknown): unknown {
  const c = asObject(content);
  return c ? asObject(Object.values(c)[0])?.schema : undefined;
}

/** The JSON schema of the first 2xx response (200 before 201 …, then 2XX). */
function successSchema(o: JsonObject, components: Components): unknown {
  const responses = asObject(o.responses) ?? {};
  const code = Object.keys(responses)
    .filter((k) => /^2(\d\d|XX)$/i.test(k))
    .sort()[0];
  if (code === undefined) return undefined;
  const r = resolve(responses[code], "responses", components);
  const content = asObject(r?.content) ?? {};
  const type = Object.keys(content).find((t) => /^application\/([\w.+-]+\+)?json\b/i.test(t));
  return type === undefined ? undefined : asObject(content[type])?.schema;
}

/** A top-level `$ref` to a component schema replaced by the schema itself (MCP wants `type: object` at the top). */
function inlineTop(schema: unknown, components: Components): unknown {
  let s = schema;
  for (let i = 0; i < 8; i++) {
    const o = asObject(s);
    const ref = asString(o?.$ref);
    const r = ref === undefined ? null : componentRef(ref);
    if (!o || !r || r.kind !== "schemas" || r.rest) return s;
    const { $ref: _, ...siblings } = o;
    s = { ...asObject(asObject(components.schemas)?.[r.name]), ...siblings };
  }
  return s;
}

/** A copy with component references pointing into `$defs` (collected transitively) and OpenAPI-only keywords dropped. */
function toJsonSchema(schema: unknown, components: Components, defs: Map<string, unknown>, opts: { dropRequired?: boolean } = {}): unknown {
  const pending: string[] = [];
  const rewrite = (node: unknown, inData: boolean): unknown => {
    if (Array.isArray(node)) return node.map((n) => rewrite(n, inData));
    if (!isObject(node)) return node;
    const out: JsonObject = {};
    for (const [k, v] of Object.entries(node)) {
      if (inData) {
        out[k] = rewrite(v, true);
        continue;
      }
      if (DROP.has(k) || k.startsWith("x-") || (opts.dropRequired && k === "required" && Array.isArray(v))) continue;
      if (k === "$ref" && typeof v === "string") {
        const r = componentRef(v);
        if (r && r.kind === "schemas") {
          pending.push(r.name);
          out.$ref = `#/$defs/${r.name}${r.rest}`;
        } else out.$ref = v;
      } else if (NAME_MAPS.has(k) && isObject(v)) {
        // property names are names, not keywords: each value is a schema
        const m: JsonObject = {};
        for (const [name, sub] of Object.entries(v)) m[name] = rewrite(sub, false);
        out[k] = m;
      } else out[k] = rewrite(v, DATA.has(k)); // enum, const, default and examples hold data
    }
    return out;
  };
  const result = rewrite(schema, false);
  while (pending.length) {
    const name = pending.pop()!;
    if (defs.has(name)) continue;
    defs.set(name, {}); // claimed before the walk, so a cycle ends here
    defs.set(name, rewrite(asObject(components.schemas)?.[name] ?? {}, false));
  }
  return result;
}
