import { expect, test } from "bun:test";
import { MAIN } from "../helpers/gateway.ts";

async function hash(stdin: string) {
  const p = Bun.spawn([process.execPath, MAIN, "hash-password"], { stdin: new Blob([stdin]), stdout: "pipe", stderr: "pipe" });
  return { out: (await new Response(p.stdout).text()).trim(), err: await new Response(p.stderr).text(), code: await p.exited };
}

test("hash-password prints an argon2id hash that verifies; short input is refused", async () => {
  const r = await hash("correct horse battery staple\n");
  expect(r.code).toBe(0);
  expect(r.out).toStartWith("$argon2id$");
  expect(await Bun.password.verify("correct horse battery staple", r.out)).toBe(true);
  expect(r.out).not.toContain("correct horse");
  const short = await hash("short");
  expect(short.code).toBe(1);
  expect(short.err).toContain("at least 8 characters");
});
