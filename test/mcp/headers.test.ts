/** The 2026-07-28 request metadata headers: the value encoding, and each header/body rule (headers.ts). */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { checkRequestHeaders, decodeHeaderValue, HEADER_MISMATCH } from "../../src/mcp/headers.ts";
import type { RpcMessage } from "../../src/mcp/filter.ts";

const b64 = (s: string) => `=?base64?${Buffer.from(s, "utf8").toString("base64")}?=`;
const rawB64 = (bytes: number[]) => `=?base64?${Buffer.from(bytes).toString("base64")}?=`;
const META = { "io.modelcontextprotocol/protocolVersion": "2026-07-28" };
const modern = (method: string, params: Record<string, unknown> = {}, id = 1): RpcMessage => ({ jsonrpc: "2.0", id, method, params: { ...params, _meta: META } });
const headers = (h: Record<string, string>) => new Headers({ "mcp-protocol-version": "2026-07-28", ...h });

describe("decodeHeaderValue", () => {
  test("plain printable ASCII (and tab) is the value itself", () => {
    expect(decodeHeaderValue("get_weather")).toBe("get_weather");
    expect(decodeHeaderValue("file:///projects/myapp/config.json")).toBe("file:///projects/myapp/config.json");
    expect(decodeHeaderValue("a\tb")).toBe("a\tb");
    expect(decodeHeaderValue("")).toBe("");
    expect(decodeHeaderValue("=?BASE64?SGk=?=")).toBe("=?BASE64?SGk=?="); // the markers are case-sensitive: not a sentinel
  });

  test("=?base64?…?= decodes to the UTF-8 it carries (the spec's examples and a non-ASCII tool name)", () => {
    expect(decodeHeaderValue("=?base64?SGVsbG8sIOS4lueVjA==?=")).toBe("Hello, 世界");
    expect(decodeHeaderValue("=?base64?IHBhZGRlZCA=?=")).toBe(" padded ");
    expect(decodeHeaderValue("=?base64?bGluZTEKbGluZTI=?=")).toBe("line1\nline2");
    expect(decodeHeaderValue("=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?=")).toBe("=?base64?literal?=");
    expect(decodeHeaderValue(b64("héllo wörld"))).toBe("héllo wörld");
    expect(decodeHeaderValue("=?base64??=")).toBe("");
  });

  test("invalid base64 does not decode", () => {
    expect(decodeHeaderValue("=?base64?not base64!?=")).toBeNull();
    expect(decodeHeaderValue("=?base64?SGk?=")).toBeNull(); // unpadded
    expect(decodeHeaderValue("=?base64?S?=")).toBeNull();
    expect(decodeHeaderValue("=?base64?aGk_?=")).toBeNull(); // base64url alphabet
  });

  test("bytes that are not UTF-8 do not decode", () => {
    expect(decodeHeaderValue(rawB64([0xc3, 0x28]))).toBeNull(); // a broken two-byte sequence
    expect(decodeHeaderValue(rawB64([0x80]))).toBeNull(); // a lone continuation byte
    expect(decodeHeaderValue(rawB64([0xc0, 0xaf]))).toBeNull(); // overlong "/"
    expect(decodeHeaderValue(rawB64([0xed, 0xa0, 0x80]))).toBeNull(); // a surrogate
  });

  test("characters outside printable ASCII must be encoded", () => {
    expect(decodeHeaderValue("héllo wörld")).toBeNull();
    expect(decodeHeaderValue("a\u0001b")).toBeNull();
  });
});

describe("checkRequestHeaders", () => {
  const ok = (h: Record<string, string>, body: RpcMessage | RpcMessage[] | null) => expect(checkRequestHeaders(headers(h), body)).toBeNull();
  const refused = (h: Record<string, string>, body: RpcMessage | RpcMessage[] | null, says: string) => {
    const r = checkRequestHeaders(headers(h), body);
    expect(r?.code).toBe(HEADER_MISMATCH);
    expect(r?.code).toBe(-32020);
    expect(r?.message).toContain(says);
  };

  test("Mcp-Name is decoded before it is compared", () => {
    ok({ "mcp-method": "tools/call", "mcp-name": b64("héllo wörld") }, modern("tools/call", { name: "héllo wörld" }));
    ok({ "mcp-method": "resources/read", "mcp-name": b64("memo://notes/café") }, modern("resources/read", { uri: "memo://notes/café" }));
    ok({ "mcp-method": "prompts/get", "mcp-name": "review" }, modern("prompts/get", { name: "review" }));
    ok({ "mcp-method": "tools/call", "mcp-name": b64("=?base64?literal?=") }, modern("tools/call", { name: "=?base64?literal?=" }));
  });

  test("mismatch → -32020", () => {
    refused({ "mcp-method": "tools/call", "mcp-name": b64("hello world") }, modern("tools/call", { name: "héllo wörld" }), "does not match");
    refused({ "mcp-method": "tools/call", "mcp-name": "get-sum" }, modern("tools/call", { name: "echo" }), "does not match");
    refused({ "mcp-method": "tools/list" }, modern("tools/call", { name: "echo" }), "Mcp-Method");
    refused({ "mcp-method": "tools/call", "mcp-name": "echo" }, modern("tools/call", { name: 7 }), "does not match");
    refused({ "mcp-method": "tools/call", "mcp-name": "echo", "mcp-protocol-version": "2025-11-25" }, modern("tools/call", { name: "echo" }), "MCP-Protocol-Version");
  });

  test("an Mcp-Name that does not decode → -32020 (invalid base64, invalid UTF-8, raw non-ASCII)", () => {
    refused({ "mcp-method": "tools/call", "mcp-name": "=?base64?aMOp?bGxv?=" }, modern("tools/call", { name: "héllo" }), "not a valid value");
    refused({ "mcp-method": "tools/call", "mcp-name": rawB64([0xc3, 0x28]) }, modern("tools/call", { name: "\ufffd(" }), "not a valid value");
  });

  test("Mcp-Param-* values must decode; their comparison with the body is the upstream's", () => {
    ok({ "mcp-method": "tools/call", "mcp-name": "locate", "mcp-param-region": b64("Zürich") }, modern("tools/call", { name: "locate", arguments: { region: "Zürich" } }));
    refused({ "mcp-method": "tools/call", "mcp-name": "locate", "mcp-param-region": "=?base64?@@@@?=" }, modern("tools/call", { name: "locate" }), "mcp-param-region");
    refused({ "mcp-method": "tools/call", "mcp-name": "locate", "mcp-param-region": rawB64([0xff]) }, modern("tools/call", { name: "locate" }), "mcp-param-region");
  });

  test("tasks/get, tasks/update and tasks/cancel: Mcp-Name mirrors params.taskId", () => {
    for (const method of ["tasks/get", "tasks/update", "tasks/cancel"]) {
      ok({ "mcp-method": method, "mcp-name": "task-42" }, modern(method, { taskId: "task-42" }));
      refused({ "mcp-method": method, "mcp-name": "task-41" }, modern(method, { taskId: "task-42" }), "params.taskId");
      refused({ "mcp-method": method }, modern(method, { taskId: "task-42" }), "Mcp-Name header is required");
    }
  });

  test("a 2026-07-28 request must carry MCP-Protocol-Version, Mcp-Method and (where it mirrors one) Mcp-Name", () => {
    refused({}, modern("tools/list"), "Mcp-Method header is required");
    refused({ "mcp-method": "tools/call" }, modern("tools/call", { name: "echo" }), "Mcp-Name header is required");
    expect(checkRequestHeaders(new Headers({ "mcp-method": "tools/list" }), modern("tools/list"))?.message).toContain("MCP-Protocol-Version header is required");
    // the header alone makes it a 2026-07-28 request
    refused({}, { jsonrpc: "2.0", id: 1, method: "tools/list" }, "Mcp-Method header is required");
    ok({ "mcp-method": "tools/list" }, modern("tools/list"));
  });

  test("notifications, 2025-era requests and methods that mirror nothing", () => {
    ok({}, { jsonrpc: "2.0", method: "notifications/progress", params: { progressToken: 1, progress: 1, _meta: META } });
    expect(checkRequestHeaders(new Headers({ "mcp-protocol-version": "2025-06-18" }), { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "echo" } })).toBeNull();
    expect(checkRequestHeaders(new Headers(), { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18" } })).toBeNull();
    // a header that is present must agree, whatever the revision
    expect(checkRequestHeaders(new Headers({ "mcp-method": "tools/list" }), { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "echo" } })?.code).toBe(-32020);
    ok({ "mcp-method": "tools/list", "mcp-name": "anything" }, modern("tools/list"));
  });

  test("routing headers on a batch, or on a body that is not JSON", () => {
    const batch = [modern("tools/list"), modern("ping", {}, 2)];
    refused({ "mcp-method": "tools/list" }, batch, "not one JSON-RPC message");
    refused({ "mcp-method": "tools/list" }, null, "not one JSON-RPC message");
    expect(checkRequestHeaders(new Headers(), batch)).toBeNull();
  });

  test("any JSON body with any routing header values: a refusal with -32020 or none, never a throw", () => {
    const value = fc.oneof(fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 12 }), fc.string({ maxLength: 8 }).map(b64), fc.constantFrom("=?base64?", "=?base64??=", "tools/call", "echo"));
    const method = fc.constantFrom("tools/call", "resources/read", "tasks/get", "tools/list", "ping");
    const message = fc.record({ jsonrpc: fc.constant("2.0"), id: fc.option(fc.oneof(fc.integer(), fc.string()), { nil: undefined }), method: fc.option(method, { nil: undefined }), params: fc.option(fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.record({ name: fc.jsonValue({ maxDepth: 1 }), uri: fc.string(), taskId: fc.string(), _meta: fc.constantFrom(META, {}, null) }, { requiredKeys: [] })), { nil: undefined }) });
    const body = fc.oneof(message, fc.array(message, { maxLength: 2 }), fc.jsonValue({ maxDepth: 2 }), fc.constant(null));
    const hs = fc.record({ "mcp-protocol-version": fc.constantFrom("2026-07-28", "2025-06-18", "x"), "mcp-method": method, "mcp-name": value, "mcp-param-x": value }, { requiredKeys: [] });
    fc.assert(
      fc.property(body, hs, (b, h) => {
        const r = checkRequestHeaders(new Headers(h), b as RpcMessage | RpcMessage[] | null);
        expect(r === null || r.code === -32020).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});
