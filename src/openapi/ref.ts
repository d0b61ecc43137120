/** Where an endpoint's `openapi` document comes from: `file:<path>` or an http(s) URL. One reading, for the config check and the loader. */

export type DocumentRef = { kind: "file"; path: string } | { kind: "url"; url: URL };

export function parseDocumentRef(ref: string, allowPrivate: boolean): DocumentRef | { error: string } {
  if (ref.startsWith("file:")) {
    const path = ref.slice("file:".length);
    return path.trim() === "" ? { error: "file: needs a path (relative to the config file's directory, or absolute)" } : { kind: "file", path };
  }
  let url: URL;
  try {
    url = new URL(ref);
  } catch {
    return { error: `expected file:<path> or an https URL, got ${JSON.stringify(ref)}` };
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return { error: `expected file:<path> or an https URL, got scheme ${url.protocol}` };
  if (url.username || url.password) return { error: "credentials in URLs are not allowed" };
  if (url.protocol === "http:" && !allowPrivate) return { error: "an upstream document is fetched over https (http only for an endpoint with allow_private = true)" };
  return { kind: "url", url };
}

/** How a reference is named in logs and `check`: a file as written, a URL without its query (which may carry a key). */
export function describeRef(ref: DocumentRef): string {
  return ref.kind === "file" ? `file:${ref.path}` : `${ref.url.origin}${ref.url.pathname}`;
}
