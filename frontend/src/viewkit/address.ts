// Addresses of plugin pages (mount "page"): /runs/<id>/view/?name=<view>, and the short form /runs/<id>/<view>/
// that the not-found page sends on (PageAddress.tsx).

/** The core's own pages under /runs/<id>/ (never a plugin page's short address). */
const CORE_PAGES = new Set(["view", "latent"]);

/** The plugin page a short address /runs/<id>/<view>/ names, or null when the address is not of that shape. */
export function shortPageAddress(pathname: string): { runId: string; name: string } | null {
  const m = /^\/runs\/([^/]+)\/([a-z0-9][a-z0-9_-]{0,63})\/?$/.exec(pathname);
  return m && !CORE_PAGES.has(m[2]) ? { runId: decodeURIComponent(m[1]), name: m[2] } : null;
}

/** The page of view ``name`` for a run, with ``search`` (a query string) kept after the name. */
export function pageUrl(runId: string, name: string, search = ""): string {
  const query = new URLSearchParams(search);
  query.delete("name");
  const rest = query.toString();
  return `/runs/${encodeURIComponent(runId)}/view/?name=${encodeURIComponent(name)}${rest ? `&${rest}` : ""}`;
}
