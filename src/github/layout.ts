/**
 * The two URL layouts clients use: github.com (`<mount>/repos/…`, `<mount>/graphql`) and GHES
 * (`/api/v3/repos/…`, `/api/graphql`). Both map to a github.com-layout API path; `clientBase` is what
 * upstream links are rewritten to, so pagination stays in the layout the client chose.
 */
export interface Resolved {
  /** github.com-layout API path, e.g. /repos/o/r or /graphql */
  path: string;
  /** absolute base URL of this layout on the gateway */
  clientBase: string;
}

/** publicUrl without trailing slashes, computed once per table's URL (this runs on every pool request) */
const bases = new WeakMap<URL, string>();

export function resolveLayout(pathname: string, mount: string, publicUrl: URL): Resolved | null {
  let pub = bases.get(publicUrl);
  if (pub === undefined) bases.set(publicUrl, (pub = publicUrl.href.replace(/\/+$/, "")));
  if (pathname === "/api/graphql") return { path: "/graphql", clientBase: `${pub}/api/v3` };
  if (pathname.startsWith("/api/v3/") || pathname === "/api/v3") return { path: pathname.slice("/api/v3".length) || "/", clientBase: `${pub}/api/v3` };
  if (mount === "") return { path: pathname, clientBase: pub };
  if (pathname === mount || pathname.startsWith(`${mount}/`)) return { path: pathname.slice(mount.length) || "/", clientBase: pub + mount };
  return null;
}
