import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, statSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadAppKey, parseAppKey } from "../../src/crypto/appkey.ts";
import { memoryLogger } from "../../src/core/log.ts";

const hex = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

describe("app key", () => {
  test("parses hex, base64 and base64url; rejects anything else naming the source", () => {
    const bytes = parseAppKey(hex, "x");
    expect(bytes.length).toBe(32);
    const b64 = Buffer.from(bytes).toString("base64");
    expect(parseAppKey(b64, "x")).toEqual(bytes);
    expect(parseAppKey(Buffer.from(bytes).toString("base64url"), "x")).toEqual(bytes);
    expect(parseAppKey(` ${hex}\n`, "x")).toEqual(bytes);
    expect(() => parseAppKey("short", "HUBGATE_APP_KEY")).toThrow(/HUBGATE_APP_KEY: an app key must be 32 bytes/);
    expect(() => parseAppKey(Buffer.alloc(16).toString("base64"), "x")).toThrow(/32 bytes/);
  });

  test("order: config, then env, then file; an empty env value counts as unset", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hg-key-"));
    const { log } = memoryLogger();
    const other = "ff".repeat(32);
    expect((await loadAppKey({ configured: hex, env: { HUBGATE_APP_KEY: other }, dataDir: dir, log })).source).toBe("config");
    expect((await loadAppKey({ configured: undefined, env: { HUBGATE_APP_KEY: other }, dataDir: dir, log })).source).toBe("env");
    const gen = await loadAppKey({ configured: undefined, env: { HUBGATE_APP_KEY: "" }, dataDir: dir, log });
    expect(gen.source).toBe("generated");
  });

  test("first run generates <data dir>/app.key with mode 0600 and says so; later runs reuse it", async () => {
    const dir = join(mkdtempSync(join(tmpdir(), "hg-key-")), "nested", "data");
    const { log, lines } = memoryLogger();
    const first = await loadAppKey({ configured: undefined, env: {}, dataDir: dir, log });
    expect(first.source).toBe("generated");
    expect(statSync(join(dir, "app.key")).mode & 0o777).toBe(0o600);
    expect(lines.some((l) => JSON.parse(l).msg.includes("generated"))).toBe(true);
    expect(JSON.stringify(lines)).not.toContain(Buffer.from(first.key).toString("base64"));
    const second = await loadAppKey({ configured: undefined, env: {}, dataDir: dir, log });
    expect(second.source).toBe("file");
    expect(second.key).toEqual(first.key);
    expect(readFileSync(join(dir, "app.key"), "utf8").trim()).toBe(Buffer.from(first.key).toString("base64"));
  });

  test("a world-readable key file is used but warned about", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hg-key-"));
    writeFileSync(join(dir, "app.key"), hex);
    chmodSync(join(dir, "app.key"), 0o644);
    const { log, lines } = memoryLogger();
    await loadAppKey({ configured: undefined, env: {}, dataDir: dir, log });
    expect(lines.some((l) => JSON.parse(l).level === "warn" && l.includes("chmod 600"))).toBe(true);
  });
});
