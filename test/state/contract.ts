/**
 * What every Locks and Bus implementation must do, written once: memory runs it with one instance as both
 * "replicas", Redis with two instances on one server.
 */
import { expect, test } from "bun:test";
import type { Bus, Locks } from "../../src/state/index.ts";

export function locksContract(name: string, replicas: () => Promise<[Locks, Locks]>): void {
  test(`${name} locks: exclusive, handed over on release, fencing tokens strictly increase`, async () => {
    const [a, b] = await replicas();
    const l1 = await a.acquire("grant-1", 10_000);
    expect(l1).not.toBeNull();
    expect(await b.acquire("grant-1", 10_000)).toBeNull();
    const waiting = b.acquire("grant-1", 10_000, { waitMs: 10_000 });
    await l1!.release();
    const l2 = await waiting; // woken by the release, long before its wait ends
    expect(l2).not.toBeNull();
    expect(l2!.token).toBeGreaterThan(l1!.token);
    await l1!.release(); // a stale holder's release does not free the new holder's lock
    expect(await a.acquire("grant-1", 10_000)).toBeNull();
    await l2!.release();

    const tokens = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).acquire(`grant-many-${i}`, 10_000)));
    const ts = tokens.map((l) => l!.token);
    expect(new Set(ts).size).toBe(20);
    const next = await a.acquire("grant-after", 10_000);
    expect(next!.token).toBeGreaterThan(Math.max(...ts));
  });

  test(`${name} locks: a lock expires; its holder can no longer extend it; a waiter gets it then`, async () => {
    const [a, b] = await replicas();
    const l1 = await a.acquire("grant-2", 100);
    expect(await l1!.extend(150)).toBe(true);
    const l2 = await b.acquire("grant-2", 10_000, { waitMs: 10_000 }); // woken by the expiry
    expect(l2).not.toBeNull();
    expect(l2!.token).toBeGreaterThan(l1!.token);
    expect(await l1!.extend(10_000)).toBe(false);
    await l1!.release();
    expect(await a.acquire("grant-2", 10_000)).toBeNull(); // still l2's
  });
}

export function busContract(name: string, replicas: () => Promise<[Bus, Bus]>): void {
  test(`${name} bus: a message published on one replica reaches subscribers on both within 1 s; unsubscribe ends it`, async () => {
    const [a, b] = await replicas();
    const atB = Promise.withResolvers<string>();
    const atA = Promise.withResolvers<string>();
    const seenB: string[] = [];
    const offB = await b.subscribe("token-revoked", (m) => {
      seenB.push(m);
      atB.resolve(m);
    });
    const offA = await a.subscribe("token-revoked", (m) => atA.resolve(m));
    const t0 = performance.now();
    await a.publish("token-revoked", "tok_123");
    expect(await atB.promise).toBe("tok_123");
    expect(performance.now() - t0).toBeLessThan(1_000);
    expect(await atA.promise).toBe("tok_123");
    await a.publish("other-topic", "x");

    await offB();
    await offA();
    // a later message on the same topic, seen by a subscription made after: the ended one stays quiet
    const later = Promise.withResolvers<string>();
    const offLater = await b.subscribe("token-revoked", (m) => later.resolve(m));
    await a.publish("token-revoked", "tok_456");
    expect(await later.promise).toBe("tok_456");
    expect(seenB).toEqual(["tok_123"]);
    await offLater();
  });
}
