// A small history router: every screen has a URL under /ui/, so reload, back and bookmarks
// work (the server answers every such path with index.html).
import { useEffect, useState } from "preact/hooks";

export const BASE = "/ui";

/** The current path below /ui (`/apps/racer`), without the query. */
function current(): string {
  const path = location.pathname.startsWith(BASE) ? location.pathname.slice(BASE.length) : "/";
  return path || "/";
}

const listeners = new Set<() => void>();
window.addEventListener("popstate", () => listeners.forEach((l) => l()));

/** Goes to `path` (below /ui) as a link would. */
export function navigate(path: string, replace = false) {
  const url = BASE + path;
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  listeners.forEach((l) => l());
  window.scrollTo(0, 0);
  // Like a page load for assistive technology: reading starts at the new screen.
  requestAnimationFrame(() => document.getElementById("main")?.focus({ preventScroll: true }));
}

/** The current path; re-renders the caller when it changes. */
export function usePath(): string {
  const [path, setPath] = useState(current);
  useEffect(() => {
    const update = () => setPath(current());
    listeners.add(update);
    return () => listeners.delete(update);
  }, []);
  return path;
}

/** Splits `/apps/racer` against `/apps/:name`; null when it does not match. */
export function match(pattern: string, path: string): Record<string, string> | null {
  const want = pattern.split("/");
  const have = path.split("/");
  if (want.length !== have.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    if (want[i].startsWith(":")) params[want[i].slice(1)] = decodeURIComponent(have[i]);
    else if (want[i] !== have[i]) return null;
  }
  return params;
}
