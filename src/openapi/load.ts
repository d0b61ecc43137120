/**
 * Loading the upstream OpenAPI documents that endpoints name in `openapi`: a file (relative to the
 * config file's directory) or a URL fetched through the one guarded outbound client with the
 * endpoint's SSRF policy (`allow_private`), a time limit and a size limit. JSON or YAML (Bun's own
 * parser). Runs at start-up, on every reload and in `check`; never throws: a document that cannot be
 * had is a reason, and the endpoint is documented without it.
 *
 * Fetched documents are cached across reloads (their text, ETag and Last-Modified): a reload asks
 * conditionally, and when the upstream cannot answer the last good copy is used, with a note saying so.
 */
import { isAbsolute, resolve as resolvePath } from "node:path";
import { stat } from "node:fs/promises";
import type { Config } from "../config/schema.ts";
import { request } from "../proxy/outbound.ts";
import { isGatewayError } from "../core/errors.ts";
import { endpointKey } from "../endpoints/model.ts";
import { describeRef, parseDocumentRef, type DocumentRef } from "./ref.ts";
import { isObject, type OpenApiDocument } from "./types.ts";

/** GitHub's REST description is 13 MB; the largest published ones are a few times that. */
export const MAX_DOCUMENT_BYTES = 32 * 1024 * 1024;
export const DOCUMENT_FETCH_TIMEOUT_MS = 15_000;
/** a YAML document may alias one collection many times over; walking it as a tree is bounded by this (GitHub's REST description has 90,570 objects and arrays) */
const MAX_YAML_NODES = 1_000_000;

export interface LoadedDocument {
  readonly doc: OpenApiDocument;
  /** `file:<path>` or the URL without its query */
  readonly source: string;
  readonly bytes: number;
  readonly loadedAt: number;
  /** set when a cached copy stands in for a fetch that failed */
  readonly stale?: string;
}

export type DocumentResult = { readonly ok: true; readonly value: LoadedDocument } | { readonly ok: false; readonly error: string };

/** By endpoint key (`<project>/<slug>`), for the endpoints that name a document. */
export type UpstreamDocuments = ReadonlyMap<string, DocumentResult>;

interface CachedText {
  text: string;
  etag: string | null;
  lastModified: string | null;
  fetchedAt: number;
}

/** Fetched documents kept across reloads, by URL and SSRF policy. */
export class DocumentCache {
  readonly entries = new Map<string, CachedText>();
}

export interface LoadOptions {
  /** the config file's directory (file: paths are relative to it) */
  configDir: string;
  cache: DocumentCache;
}

export async function loadUpstreamDocuments(config: Config, opts: LoadOptions): Promise<UpstreamDocuments> {
  const out = new Map<string, DocumentResult>();
  // one load per distinct source, however many endpoints share it
  const loads = new Map<string, Promise<DocumentResult>>();
  const used = new Set<string>();
  const jobs: Promise<void>[] = [];
  for (const p of config.projects)
    for (const e of p.endpoints) {
      if (e.openapi === undefined) continue;
      const ref = parseDocumentRef(e.openapi, e.allow_private);
      const key = endpointKey(p.id, e.slug);
      if ("error" in ref) {
        out.set(key, { ok: false, error: ref.error });
        continue;
      }
      const id = ref.kind === "file" ? `file:${resolveFile(ref.path, opts.configDir)}` : `${e.allow_private ? "private" : "public"} ${ref.url.href}`;
      if (ref.kind === "url") used.add(id);
      let load = loads.get(id);
      if (!load) loads.set(id, (load = loadOne(ref, e.allow_private, id, opts)));
      jobs.push(load.then((r) => void out.set(key, r)));
    }
  await Promise.all(jobs);
  for (const k of opts.cache.entries.keys()) if (!used.has(k)) opts.cache.entries.delete(k);
  return out;
}

function resolveFile(path: string, dir: string): string {
  return isAbsolute(path) ? path : resolvePath(dir, path);
}

async function loadOne(ref: DocumentRef, allowPrivate: boolean, id: string, opts: LoadOptions): Promise<DocumentResult> {
  const source = describeRef(ref);
  const started = Date.now();
  let text: string;
  let stale: string | undefined;
  try {
    if (ref.kind === "file") text = await readFile(resolveFile(ref.path, opts.configDir));
    else {
      const got = await fetchDocument(ref.url, allowPrivate, opts.cache.entries.get(id));
      opts.cache.entries.set(id, got);
      text = got.text;
    }
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    const cached = opts.cache.entries.get(id);
    if (ref.kind === "url" && cached) {
      text = cached.text;
      stale = `could not be fetched again (${reason}); the copy fetched at ${new Date(cached.fetchedAt).toISOString()} is used`;
    } else return { ok: false, error: `${source}: ${reason}` };
  }
  try {
    const doc = parseDocument(text);
    return { ok: true, value: { doc, source, bytes: Buffer.byteLength(text), loadedAt: started, ...(stale ? { stale } : {}) } };
  } catch (e) {
    return { ok: false, error: `${source}: ${e instanceof Error ? e.message : String(e)}` };
  }
}

async function readFile(path: string): Promise<string> {
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch (e) {
    const code = (e as { code?: string }).code;
    throw new Error(code === "ENOENT" ? "no such file" : `cannot read it (${code ?? "error"})`);
  }
  if (size > MAX_DOCUMENT_BYTES) throw new Error(`${size} bytes, over the limit of ${MAX_DOCUMENT_BYTES}`);
  return await Bun.file(path).text();
}

async function fetchDocument(url: URL, allowPrivate: boolean, cached: CachedText | undefined): Promise<CachedText> {
  const headers: Record<string, string> = { accept: "application/json, application/yaml;q=0.9, application/x-yaml;q=0.9, text/yaml;q=0.9, */*;q=0.1" };
  if (cached?.etag) headers["if-none-match"] = cached.etag;
  if (cached?.lastModified) headers["if-modified-since"] = cached.lastModified;
  let res: Response;
  try {
    res = await request(url, { headers }, { allowPrivate, timeoutMs: DOCUMENT_FETCH_TIMEOUT_MS, maxBytes: MAX_DOCUMENT_BYTES, maxRedirects: 3 });
  } catch (e) {
    throw new Error(isGatewayError(e) ? `${e.code}: ${e.message}` : "the request failed");
  }
  if (res.status === 304 && cached) return { ...cached, fetchedAt: Date.now() };
  if (!res.ok) throw new Error(`the upstream answered ${res.status}`);
  return { text: await res.text(), etag: res.headers.get("etag"), lastModified: res.headers.get("last-modified"), fetchedAt: Date.now() };
}

/** JSON or YAML text → an OpenAPI 3.x document, or an Error saying what it is instead. */
export function parseDocument(text: string): OpenApiDocument {
  let v: unknown;
  if (/^\s*\{/.test(text)) {
    try {
      v = JSON.parse(text);
    } catch (e) {
      throw new Error(`not valid JSON (${e instanceof Error ? e.message.split("\n")[0] : "syntax error"})`);
    }
  } else {
    try {
      v = Bun.YAML.parse(text);
    } catch (e) {
      throw new Error(`not valid YAML or JSON (${e instanceof Error ? e.message.split("\n")[0] : "syntax error"})`);
    }
    if (Array.isArray(v)) throw new Error("a YAML stream of several documents; expected one");
    checkTree(v);
  }
  if (!isObject(v)) throw new Error("not an OpenAPI document (expected an object)");
  if (typeof v.swagger === "string") throw new Error(`Swagger ${v.swagger} is not supported; convert it to OpenAPI 3`);
  if (typeof v.openapi !== "string" || !/^3\.\d+(\.\d+)?/.test(v.openapi)) throw new Error("not an OpenAPI 3.x document (no openapi: 3.x field)");
  if (v.paths !== undefined && !isObject(v.paths)) throw new Error("paths is not an object");
  if (v.components !== undefined && !isObject(v.components)) throw new Error("components is not an object");
  return v as OpenApiDocument;
}

/** YAML aliases can make a cycle, or a small text that is a huge tree: refuse both before anything walks it. */
function checkTree(root: unknown): void {
  let nodes = 0;
  const onPath = new Set<object>();
  const stack: { v: unknown; exit: boolean }[] = [{ v: root, exit: false }];
  while (stack.length) {
    const { v, exit } = stack.pop()!;
    if (typeof v !== "object" || v === null) continue;
    if (exit) {
      onPath.delete(v);
      continue;
    }
    if (onPath.has(v)) throw new Error("the YAML refers to itself through an alias (a cycle)");
    if (++nodes > MAX_YAML_NODES) throw new Error(`more than ${MAX_YAML_NODES} nodes once YAML aliases are expanded`);
    onPath.add(v);
    stack.push({ v, exit: true });
    for (const c of Array.isArray(v) ? v : Object.values(v)) if (typeof c === "object" && c !== null) stack.push({ v: c, exit: false });
  }
}
