/**
 * GitHub paginates owner-scoped listings with links by numeric id: /repos/o/r/issues links to
 * /repositories/{id}/issues?page=2, /orgs/o/repos to /organizations/{id}/repos, /users/u/repos to
 * /user/{id}/repos. When a 2xx response to a request scoped to an allowed owner carries such a Link,
 * GitHub made that link for that owner's listing, so the id is remembered as that owner's and the
 * pages can be followed under the allowlist. Only Link is read, never Location: a transferred
 * repository redirects to its id, which then belongs to its new owner.
 */
export const ID_FAMILIES: ReadonlySet<string> = new Set(["repositories", "organizations", "user"]);

const LINK_URL = /<([^>]*)>/g;
const ID_PATH = /^\/(repositories|organizations|user)\/(\d+)(?:[/?#]|$)/;

export class LinkedIds {
  private readonly ids = new Map<string, { owner: string; until: number }>();

  // an hour bounds how long a remembered id outlives a repository transfer; 10,000 ids bound the memory
  constructor(
    private readonly max = 10_000,
    private readonly ttlMs = 60 * 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Remember the ids in a client-facing Link header; only links at the gateway's `clientBase` count. */
  learn(link: string | null, owner: string, clientBase: string): void {
    if (!link) return;
    for (const [, url] of link.matchAll(LINK_URL)) {
      if (!url!.startsWith(`${clientBase}/`)) continue;
      const m = ID_PATH.exec(url!.slice(clientBase.length));
      if (!m) continue;
      const key = `${m[1]}/${m[2]}`;
      this.ids.delete(key);
      if (this.ids.size >= this.max) this.ids.delete(this.ids.keys().next().value!);
      this.ids.set(key, { owner, until: this.now() + this.ttlMs });
    }
  }

  ownerOf(family: string, id: string): string | null {
    const e = this.ids.get(`${family}/${id}`);
    return e && e.until > this.now() ? e.owner : null;
  }
}
