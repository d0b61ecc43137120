/** Generated OpenAPI documents, checked by a maintained validator (@readme/openapi-parser: the OpenAPI 3.x schemas plus its own rules, unique operationIds among them). */
import { expect } from "bun:test";
import { compileErrors, validate } from "@readme/openapi-parser";

export type Doc = {
  openapi: string;
  info: { title: string; version: string; description?: string };
  servers: { url: string }[];
  tags: { name: string; description?: string }[];
  paths: Record<string, Record<string, Op>>;
  components: Record<string, Record<string, unknown>>;
};
export type Op = {
  operationId: string;
  summary?: string;
  description?: string;
  tags: string[];
  security?: Record<string, string[]>[];
  parameters?: unknown[];
  requestBody?: unknown;
  responses: Record<string, { description: string; headers?: Record<string, unknown>; content?: Record<string, { schema?: unknown }> }>;
  [k: `x-${string}`]: unknown;
};

/** Valid per the validator (which is given a copy: it dereferences in place). */
export async function expectValid(doc: Doc): Promise<void> {
  const result = await validate(structuredClone(doc) as unknown as Parameters<typeof validate>[0]);
  if (!result.valid) throw new Error(compileErrors(result));
  expect(result.valid).toBe(true);
}

/** "METHOD path" of every operation, sorted. */
export function operationsOf(doc: Doc, under = ""): string[] {
  const out: string[] = [];
  for (const [path, item] of Object.entries(doc.paths)) if (path.startsWith(under)) for (const m of Object.keys(item)) out.push(`${m.toUpperCase()} ${path}`);
  return out.sort();
}

export function op(doc: Doc, method: string, path: string): Op {
  const o = doc.paths[path]?.[method.toLowerCase()];
  if (!o) throw new Error(`no ${method} ${path} in ${Object.keys(doc.paths).join(", ")}`);
  return o;
}

export function operationIds(doc: Doc): string[] {
  return Object.values(doc.paths).flatMap((item) => Object.values(item).map((o) => o.operationId));
}

/** The error codes a response documents (from its JSON schema's `error` enum). */
export function codesOf(o: Op, status: string): string[] {
  const schema = o.responses[status]?.content?.["application/json"]?.schema as { properties?: { error?: { enum?: string[] } }; anyOf?: { properties?: { error?: { enum?: string[] } } }[] } | undefined;
  return schema?.properties?.error?.enum ?? schema?.anyOf?.flatMap((s) => s.properties?.error?.enum ?? []) ?? [];
}
