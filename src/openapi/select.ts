/**
 * From an upstream's OpenAPI document to the operations an endpoint documents: those whose method
 * the endpoint allows and that its `operations` allow-list lets through, with their paths below the
 * endpoint (the document's own server base path kept), path-level parameters merged in, parameters
 * the gateway never forwards (Authorization, cookies, …) dropped, converted to OpenAPI 3.1, and only
 * the components they reach. Pure; the document is not changed.
 */
import { CLIENT_AUTH, HOP_BY_HOP } from "../proxy/headers.ts";
import { convertComponent, convertOperation } from "./convert.ts";
import type { OperationFilter } from "./filter.ts";
import { asObject, asString, componentRef, isObject, OPERATION_METHODS, type Components, type JsonObject, type OpenApiDocument } from "./types.ts";

export interface SelectedOperation {
  /** upper-case */
  readonly method: string;
  /** path template below the endpoint, the document's server base path included, e.g. /v1/repos/{owner}/{repo} */
  readonly path: string;
  /** the path as the upstream document writes it */
  readonly documentPath: string;
  readonly operationId?: string;
  /** an OpenAPI 3.1 operation whose `$ref`s point into the selection's components */
  readonly operation: JsonObject;
}

export interface Selection {
  readonly operations: readonly SelectedOperation[];
  readonly components: Components;
  /** why something was left out, or an allow-list entry that matched nothing */
  readonly warnings: readonly string[];
}

export interface SelectOptions {
  /** the endpoint's allowed methods, upper-case */
  methods: readonly string[];
  filter: OperationFilter | null;
  /** the path of the endpoint's upstream_url */
  upstreamPath: string;
}

const NOT_FORWARDED = new Set([...CLIENT_AUTH, ...HOP_BY_HOP, "host"]);

export function selectOperations(doc: OpenApiDocument, opts: SelectOptions): Selection {
  const warnings: string[] = [];
  const is30 = doc.openapi.startsWith("3.0");
  const comps = asObject(doc.components) ?? {};
  const prefix = basePrefix(doc, opts.upstreamPath, warnings);
  const allowed = new Set(opts.methods);
  const matched = new Set<number>();
  const selected: SelectedOperation[] = [];
  const outside: string[] = [];
  let pathRefs = 0;

  for (const [path, rawItem] of Object.entries(doc.paths ?? {})) {
    const item = asObject(rawItem);
    if (!item) continue;
    if (typeof item.$ref === "string") {
      pathRefs++;
      continue;
    }
    const shared = Array.isArray(item.parameters) ? item.parameters : [];
    for (const m of OPERATION_METHODS) {
      const op = asObject(item[m]);
      const method = m.toUpperCase();
      if (!op || !allowed.has(method)) continue;
      const operationId = asString(op.operationId);
      if (opts.filter) {
        const i = opts.filter.match({ method, path, operationId });
        if (i < 0) continue;
        matched.add(i);
      }
      const params = mergeParameters(shared, Array.isArray(op.parameters) ? op.parameters : [], comps).filter((p) => forwarded(p, comps));
      const { security: _s, servers: _v, ...rest } = op;
      let operation: JsonObject = { ...rest, parameters: params };
      if (params.length === 0) delete operation.parameters;
      if (is30) operation = convertOperation(operation);
      const bad = refsOf(operation).find((r) => !resolvable(r, comps));
      if (bad !== undefined) {
        outside.push(`${method} ${path} (${bad})`);
        continue;
      }
      selected.push({ method, path: prefix + path, documentPath: path, ...(operationId ? { operationId } : {}), operation });
    }
  }

  if (pathRefs) warnings.push(`${pathRefs} path item(s) given as $ref are not supported and were left out`);
  if (outside.length) warnings.push(`${outside.length} operation(s) left out: they refer outside the document or to a missing component: ${outside.slice(0, 3).join(", ")}${outside.length > 3 ? ", …" : ""}`);
  if (opts.filter) opts.filter.entries.forEach((e, i) => matched.has(i) || warnings.push(`operations[${i}] "${e}" matches no operation (of the allowed methods ${opts.methods.join(", ")})`));
  const missing: string[] = [];
  const components = closure(selected, comps, is30, missing);
  if (missing.length) warnings.push(`the document refers to ${missing.length} component(s) it does not define (${missing.slice(0, 3).join(", ")}${missing.length > 3 ? ", …" : ""}); they are documented as empty`);
  return { operations: selected, components, warnings };
}

/**
 * The document's server base path below the endpoint's upstream path: a document served at
 * https://api.example.com/v1 for an endpoint whose upstream_url is https://api.example.com documents
 * /users, which a client calls as /api/<project>/proxy/<slug>/v1/users.
 */
function basePrefix(doc: OpenApiDocument, upstreamPath: string, warnings: string[]): string {
  const server = Array.isArray(doc.servers) ? asObject(doc.servers[0]) : undefined;
  let url = asString(server?.url);
  if (url === undefined) return "";
  const vars = asObject(server?.variables) ?? {};
  url = url.replace(/\{([^}]+)\}/g, (_, name: string) => asString(asObject(vars[name])?.default) ?? "");
  let serverPath: string;
  try {
    serverPath = new URL(url, "http://base.invalid/").pathname;
  } catch {
    return "";
  }
  const s = serverPath.replace(/\/+$/, "");
  const u = upstreamPath.replace(/\/+$/, "");
  if (s === u) return "";
  if (s.startsWith(`${u}/`)) return s.slice(u.length);
  if (s !== "") warnings.push(`the document's server path ${s} is not below the endpoint's upstream path ${u || "/"}; its paths are taken as relative to the upstream URL`);
  return "";
}

function deref(p: unknown, comps: JsonObject): JsonObject | undefined {
  const o = asObject(p);
  if (!o || typeof o.$ref !== "string") return o;
  const r = componentRef(o.$ref);
  return r && r.kind === "parameters" && !r.rest ? asObject(asObject(comps.parameters)?.[r.name]) : undefined;
}

/** Operation parameters override path-level ones with the same name and location. */
function mergeParameters(shared: unknown[], own: unknown[], comps: JsonObject): unknown[] {
  const key = (p: unknown) => {
    const d = deref(p, comps);
    return d ? `${asString(d.in)}:${asString(d.name)}` : null;
  };
  const ownKeys = new Set(own.map(key));
  return [...shared.filter((p) => !ownKeys.has(key(p))), ...own];
}

function forwarded(p: unknown, comps: JsonObject): boolean {
  const d = deref(p, comps);
  if (!d) return true;
  if (d.in === "cookie") return false;
  return !(d.in === "header" && NOT_FORWARDED.has(String(d.name).toLowerCase()));
}

/** Every `$ref` (and discriminator mapping target) under a node. */
export function refsOf(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) for (const v of node) refsOf(v, out);
  else if (isObject(node)) {
    for (const [k, v] of Object.entries(node)) {
      if (k === "$ref" && typeof v === "string") out.push(v);
      else if (k === "discriminator" && isObject(v) && isObject(v.mapping)) {
        for (const t of Object.values(v.mapping)) if (typeof t === "string" && t.startsWith("#")) out.push(t);
      } else if (typeof v === "object" && v !== null) refsOf(v, out);
    }
  }
  return out;
}

function resolvable(ref: string, comps: JsonObject): boolean {
  const r = componentRef(ref);
  return r !== null && isObject(comps[r.kind]) && (comps[r.kind] as JsonObject)[r.name] !== undefined;
}

const PLACEHOLDER: Record<string, unknown> = {
  schemas: { description: "(not defined in the upstream document)" },
  responses: { description: "(not defined in the upstream document)" },
  requestBodies: { content: {} },
  headers: { schema: {} },
  parameters: { name: "undefined", in: "query", description: "(not defined in the upstream document)", schema: {} },
};

/** The components the selected operations reach, transitively (converted to 3.1 when the document is 3.0). */
function closure(ops: readonly SelectedOperation[], comps: JsonObject, is30: boolean, missing: string[]): Components {
  const out: Record<string, Record<string, unknown>> = {};
  const queue: string[] = [];
  for (const op of ops) refsOf(op.operation, queue);
  const seen = new Set<string>();
  while (queue.length) {
    const ref = queue.pop()!;
    const r = componentRef(ref);
    if (!r) continue;
    const id = `${r.kind}/${r.name}`;
    if (seen.has(id)) continue;
    seen.add(id);
    const raw = asObject(comps[r.kind])?.[r.name];
    if (raw === undefined) {
      // a dangling reference inside the document's own components: a stand-in keeps the output valid
      (out[r.kind] ??= {})[r.name] = PLACEHOLDER[r.kind] ?? {};
      missing.push(ref);
      continue;
    }
    const value = is30 ? convertComponent(r.kind, raw) : raw;
    (out[r.kind] ??= {})[r.name] = value;
    refsOf(value, queue);
  }
  return out as Components;
}
