/**
 * Refresh-token rotation with reuse detection (RFC 9700 §4.14.2), through the real /token endpoint:
 * a replaced refresh token presented again revokes its whole family (access tokens included), except
 * for one retry of a refresh whose answer was lost, allowed only while the pair it replaces is unused.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { clientTokens, harness, type Harness } from "./harness.ts";

const REDIRECT = "http://127.0.0.1:49992/cb";

interface Pair {
  access_token: string;
  refresh_token: string;
}

describe("refresh-token reuse", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness();
  });
  afterAll(() => h.stop());

  const refresh = (clientId: string, refreshToken: string) =>
    fetch(`${h.base}/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: refreshToken, client_id: clientId }),
    });
  const rotate = async (clientId: string, refreshToken: string): Promise<Pair> => {
    const r = await refresh(clientId, refreshToken);
    expect(r.status).toBe(200);
    return (await r.json()) as Pair;
  };
  const refused = async (clientId: string, refreshToken: string) => {
    const r = await refresh(clientId, refreshToken);
    expect(r.status).toBe(400);
    expect(((await r.json()) as { error: string }).error).toBe("invalid_grant");
  };
  /** Does the resource server accept this access token? */
  const works = async (accessToken: string) => {
    const init = { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } } };
    const r = await fetch(`${h.base}/mcp`, {
      method: "POST",
      headers: { authorization: `Bearer ${accessToken}`, "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify(init),
    });
    await r.body?.cancel();
    if (r.status !== 200 && r.status !== 401) throw new Error(`unexpected status ${r.status}`);
    return r.status === 200;
  };
  const reuseEvents = async (clientId: string) => (await h.gw.gw.store.audit.list({ kind: "mcp.refresh_reused" })).filter((e) => e.subject === clientId);

  test("a token whose successor has been used is a replay even inside the grace window: the whole family is revoked", async () => {
    const t = await clientTokens(h.base, REDIRECT, "alice");
    const p2 = await rotate(t.clientId, t.refresh_token);
    const p3 = await rotate(t.clientId, p2.refresh_token);
    expect(await works(p3.access_token)).toBe(true);

    await refused(t.clientId, t.refresh_token); // seconds after its rotation, but RT2 was already used
    expect(await works(p3.access_token)).toBe(false);
    await refused(t.clientId, p3.refresh_token);
    const events = await reuseEvents(t.clientId);
    expect(events).toHaveLength(1);
    expect(events[0]!.actor).toBe("alice");
    expect(events[0]!.detail!.revoked).toBe(6); // every token of the family: RT1-RT3 and AT1-AT3

    // logged as a warning, without any token value
    const line = h.gw.lines.find((l) => l.includes("refresh token reused") && l.includes(t.clientId));
    expect(line).toBeDefined();
    for (const secret of [t.refresh_token, t.access_token, p2.refresh_token, p3.refresh_token, p3.access_token]) expect(h.gw.lines.join("\n")).not.toContain(secret);
  });

  test("an attacker replaying a rotated token inside the grace window: the victim's next refresh revokes the family, the attacker's pair included", async () => {
    const t = await clientTokens(h.base, REDIRECT, "alice");
    const victim = await rotate(t.clientId, t.refresh_token);
    // the attacker presents the stolen RT1 before the victim used RT2: it looks like a lost answer
    const attacker = await rotate(t.clientId, t.refresh_token);
    expect(await works(attacker.access_token)).toBe(true);
    expect(await works(victim.access_token)).toBe(false); // the pair the retry replaced

    await refused(t.clientId, victim.refresh_token); // RT2 was replaced by the retry: presenting it is reuse
    expect(await reuseEvents(t.clientId)).toHaveLength(1);
    expect(await works(attacker.access_token)).toBe(false);
    await refused(t.clientId, attacker.refresh_token);
  });

  test("the lost-answer retry: one retry while the successor is unused gets a new pair; the lost pair is dead; the new one keeps rotating", async () => {
    const t = await clientTokens(h.base, REDIRECT, "bob");
    const lost = await rotate(t.clientId, t.refresh_token); // the client never saw this answer
    const retried = await rotate(t.clientId, t.refresh_token);
    expect(retried.refresh_token).not.toBe(lost.refresh_token);
    expect(await works(lost.access_token)).toBe(false);
    expect(await works(retried.access_token)).toBe(true);
    expect((await h.gw.gw.store.audit.list({ kind: "mcp.refresh_retried" })).some((e) => e.subject === t.clientId)).toBe(true);

    const next = await rotate(t.clientId, retried.refresh_token);
    expect(await works(next.access_token)).toBe(true);
    expect(await reuseEvents(t.clientId)).toHaveLength(0);
  });

  test("a second retry is reuse: the family is revoked", async () => {
    const t = await clientTokens(h.base, REDIRECT, "bob");
    await rotate(t.clientId, t.refresh_token);
    const retried = await rotate(t.clientId, t.refresh_token);
    await refused(t.clientId, t.refresh_token);
    expect(await reuseEvents(t.clientId)).toHaveLength(1);
    expect(await works(retried.access_token)).toBe(false);
    await refused(t.clientId, retried.refresh_token);
  });

  test("concurrent presentations of one refresh token: at most the rotation and the one retry answer 200, and no usable grant is left", async () => {
    const t = await clientTokens(h.base, REDIRECT, "alice");
    const answers = await Promise.all(Array.from({ length: 5 }, () => refresh(t.clientId, t.refresh_token)));
    const ok = answers.filter((r) => r.status === 200);
    const bodies = (await Promise.all(ok.map((r) => r.json()))) as Pair[];
    for (const r of answers.filter((r) => r.status !== 200)) {
      expect(r.status).toBe(400);
      expect(((await r.json()) as { error: string }).error).toBe("invalid_grant");
    }
    expect(ok.length).toBeGreaterThanOrEqual(1);
    expect(ok.length).toBeLessThanOrEqual(2);
    // five presentations of one token cannot all be one lost answer: the family is gone
    expect(await reuseEvents(t.clientId)).toHaveLength(1);
    for (const p of bodies) expect(await works(p.access_token)).toBe(false);
    for (const p of bodies) await refused(t.clientId, p.refresh_token);
  });

  test("two concurrent presentations: exactly one issued pair is usable", async () => {
    const t = await clientTokens(h.base, REDIRECT, "bob");
    const answers = await Promise.all([refresh(t.clientId, t.refresh_token), refresh(t.clientId, t.refresh_token)]);
    const bodies = (await Promise.all(answers.filter((r) => r.status === 200).map((r) => r.json()))) as Pair[];
    const usable = [];
    for (const p of bodies) if (await works(p.access_token)) usable.push(p);
    expect(usable).toHaveLength(1);
    await rotate(t.clientId, usable[0]!.refresh_token);
  });
});
