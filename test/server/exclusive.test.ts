/** One owner per port and per store: a second `serve` refuses to share either, and says who holds it. */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { freePort, runCli, tempDir, writeConfig } from "../helpers/gateway.ts";
import { serveRefusal, spawnServe } from "../helpers/child.ts";

describe("a taken port", () => {
  test("a second serve on the same host:port exits non-zero with EADDRINUSE naming it; the first keeps serving all traffic", async () => {
    const port = await freePort();
    const first = writeConfig(`[server]\nport = ${port}\n`);
    const child = await spawnServe(first.path);
    try {
      // another store, so only the port is shared
      const second = writeConfig(`[server]\nport = ${port}\n`);
      const r = await serveRefusal(second.path);
      expect(r.listened).toBe(false);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("EADDRINUSE");
      expect(r.stderr).toContain(`127.0.0.1:${port}`);
      expect(r.stdout).toContain('"code":"address_in_use"');
      // every request still reaches the first process: its config is the one /stats names
      for (let i = 0; i < 5; i++) {
        const stats = (await (await fetch(`${child.base}/stats`)).json()) as { config: { source: string } };
        expect(stats.config.source).toBe(first.path);
      }
    } finally {
      expect(await child.stop()).toBe(0);
    }
  });

  test("a unix socket another process serves on is refused; one left behind by a killed process is taken over", async () => {
    const sock = join(tempDir(), "hubgate.sock");
    const a = writeConfig(`[server]\nunix_socket = "${sock}"\n`);
    const child = await spawnServe(a.path);
    const b = writeConfig(`[server]\nunix_socket = "${sock}"\n`);
    try {
      const r = await serveRefusal(b.path);
      expect(r.listened).toBe(false);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`unix socket ${sock}: EADDRINUSE`);
      expect(await fetch("http://localhost/healthz", { unix: sock } as RequestInit).then((x) => x.status)).toBe(200);
    } finally {
      await child.stop("SIGKILL"); // the socket file stays behind
    }
    const again = await spawnServe(b.path);
    try {
      expect(again.lines.some((l) => l.msg === "removed a stale unix socket (left by a process that did not shut down)")).toBe(true);
      expect(await fetch("http://localhost/healthz", { unix: sock } as RequestInit).then((x) => x.status)).toBe(200);
    } finally {
      expect(await again.stop()).toBe(0);
    }
  });
});

describe("one serving process per store", () => {
  test("a second serve on the same store refuses and names the PID holding it; the CLI keeps working beside the server", async () => {
    const { path } = writeConfig(`[[projects]]\nid = "p"\n`);
    const child = await spawnServe(path);
    try {
      const r = await serveRefusal(path);
      expect(r.listened).toBe(false);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`PID ${child.proc.pid}`);
      expect(r.stderr).toContain("in use by another hubgate serve");
      expect(r.stdout).toContain('"code":"store_locked"');

      const created = await runCli(["token", "create", "--project", "p", "--name", "beside", "--config", path]);
      expect(created.code).toBe(0);
      const list = await runCli(["token", "list", "--config", path]);
      expect(list.code).toBe(0);
      expect(list.stdout).toContain("beside");
      expect((await fetch(`${child.base}/healthz`)).status).toBe(200);
    } finally {
      expect(await child.stop()).toBe(0);
    }
    // a clean stop releases the lock
    const again = await spawnServe(path);
    expect(await again.stop()).toBe(0);
  });

  test("the lock of a killed server (SIGKILL) does not block a restart", async () => {
    const { path } = writeConfig("");
    const child = await spawnServe(path);
    await child.stop("SIGKILL");
    const again = await spawnServe(path);
    try {
      expect((await fetch(`${again.base}/healthz`)).status).toBe(200);
    } finally {
      expect(await again.stop()).toBe(0);
    }
  });

  test("unix-socket mode is covered too: a second serve on the store refuses before touching the socket; restart after SIGKILL works", async () => {
    const dir = tempDir();
    const sock = join(dir, "hubgate.sock");
    const { path } = writeConfig(`[server]\nunix_socket = "${sock}"\n`, dir);
    const child = await spawnServe(path);
    try {
      const r = await serveRefusal(path);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`PID ${child.proc.pid}`);
      expect(await fetch("http://localhost/healthz", { unix: sock } as RequestInit).then((x) => x.status)).toBe(200);
    } finally {
      await child.stop("SIGKILL");
    }
    const again = await spawnServe(path);
    try {
      expect(await fetch("http://localhost/healthz", { unix: sock } as RequestInit).then((x) => x.status)).toBe(200);
    } finally {
      expect(await again.stop()).toBe(0);
    }
  });
});
