/** The error codes are declared in one place; each declared code is in use, and each maps to the one JSON shape. */
import { expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { ERROR_CODES, GatewayError } from "../../src/core/errors.ts";
import { ROOT } from "../helpers/gateway.ts";

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith(".ts") ? [p] : [];
  });
}

test("every declared code is used somewhere in src/ (the list holds no dead codes) and none is declared twice", () => {
  // every source file, the declaration itself left out
  const text = sources(join(ROOT, "src"))
    .map((f) => readFileSync(f, "utf8").replace(/export const ERROR_CODES = \[[^\]]*\] as const;/, ""))
    .join("\n");
  const unused = ERROR_CODES.filter((c) => !text.includes(`"${c}"`));
  expect(unused).toEqual([]);
  expect(new Set(ERROR_CODES).size).toBe(ERROR_CODES.length);
});

test("a GatewayError becomes {error, message} with its status and no-store", async () => {
  const res = new GatewayError("owner_not_allowed", "Owner is not allowed", 403).toResponse("rid-1");
  expect(res.status).toBe(403);
  expect(res.headers.get("cache-control")).toBe("no-store");
  expect(res.headers.get("x-request-id")).toBe("rid-1");
  expect(await res.json()).toEqual({ error: "owner_not_allowed", message: "Owner is not allowed" });
});
