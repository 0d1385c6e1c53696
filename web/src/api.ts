// The one way the UI talks to the appliance: its public JSON API, same origin only.
// Sessions live in localStorage so that tabs share them; a refresh runs under a Web Lock so
// that two tabs never present the same refresh token (the server revokes a reused one).

/** An API error body (`{"status":"error","error","message"}`) or a network failure. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** A backend session: the tokens of `POST /be/v1/login` plus who holds them. */
export interface Session {
  org: string;
  username: string;
  accessToken: string;
  refreshToken: string;
  accessExpires: number;
  accessLifetime: number;
  permissions: Record<string, number>;
}

/** A decoded API answer; screens read the keys API.md documents. */
export type Json = any;

const SESSION_KEY = "rockit-edge.session";
const ADMIN_KEY = "rockit-edge.admin-token";
const listeners = new Set<() => void>();

/** Calls `listener` whenever the session or the admin token changes (also in another tab). */
export function onAuthChange(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function changed() {
  listeners.forEach((listener) => listener());
}

window.addEventListener("storage", (event) => {
  if (event.key === SESSION_KEY) changed();
});

export function session(): Session | null {
  const text = localStorage.getItem(SESSION_KEY);
  return text ? (JSON.parse(text) as Session) : null;
}

function saveSession(next: Session | null) {
  if (next) localStorage.setItem(SESSION_KEY, JSON.stringify(next));
  else localStorage.removeItem(SESSION_KEY);
  changed();
}

/** The instance administrator token pasted in admin mode (this tab only: it never expires). */
export function adminToken(): string | null {
  return sessionStorage.getItem(ADMIN_KEY);
}

export function setAdminToken(token: string | null) {
  if (token) sessionStorage.setItem(ADMIN_KEY, token);
  else sessionStorage.removeItem(ADMIN_KEY);
  changed();
}

async function send(method: string, path: string, headers: Record<string, string>, body?: unknown) {
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers: body === undefined ? headers : { ...headers, "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, "network", "the appliance cannot be reached; check the connection and try again");
  }
  const answer = await response.json().catch(() => null);
  if (!response.ok) {
    throw new ApiError(
      response.status,
      answer?.error ?? "http",
      answer?.message ?? `the appliance answered HTTP ${response.status}`,
    );
  }
  return answer as Json;
}

function fromTokens(org: string, username: string, answer: Json): Session {
  return {
    org,
    username,
    accessToken: answer.accessToken,
    refreshToken: answer.refreshToken,
    accessExpires: Date.now() + answer.accessExpiresIn * 1000,
    accessLifetime: answer.accessExpiresIn * 1000,
    permissions: answer.permissions,
  };
}

/** Step one of the login: the orgs where these credentials are valid. */
export async function login(username: string, password: string) {
  const answer = await send("POST", "/be/v1/login", {}, { username, password });
  return { orgs: answer.orgs as { name: string; label: string }[], orgSelToken: answer.orgSelToken as string };
}

/** Step two: a session in the chosen org. */
export async function chooseOrg(username: string, orgSelToken: string, orgName: string) {
  const answer = await send("POST", "/be/v1/login", {}, { orgSelToken, orgName });
  saveSession(fromTokens(orgName, username, answer));
}

export async function logout() {
  const current = session();
  saveSession(null);
  if (current) {
    await send("POST", "/be/v1/logout", { Authorization: `Bearer ${current.refreshToken}` }).catch(() => undefined);
  }
}

/** Rotates the session's tokens once, even when several requests or tabs ask at the same time. */
async function refresh(stale: Session): Promise<Session | null> {
  const run = async () => {
    const current = session();
    if (!current || current.refreshToken !== stale.refreshToken) return current; // another tab did it
    try {
      const answer = await send("POST", "/be/v1/refresh", { Authorization: `Bearer ${current.refreshToken}` });
      const next = fromTokens(current.org, current.username, answer);
      saveSession(next);
      return next;
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) saveSession(null);
      throw error;
    }
  };
  return navigator.locks ? navigator.locks.request(SESSION_KEY, run) : run();
}

/** How long before its expiry an access token is renewed: a minute, or a fifth of short lives. */
const refreshMargin = (s: Session) => Math.min(60_000, s.accessLifetime / 5);

/** A backend API call with the session's access token, refreshed silently when due. */
export async function api(method: string, path: string, body?: unknown): Promise<Json> {
  let current = session();
  if (!current) throw new ApiError(401, "unauthorized", "log in first");
  if (current.accessExpires - Date.now() < refreshMargin(current)) current = await refresh(current);
  if (!current) throw new ApiError(401, "unauthorized", "the session ended; log in again");
  try {
    return await send(method, path, { Authorization: `Bearer ${current.accessToken}` }, body);
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 401) throw error;
    if (error.code !== "token-expired") {
      // Revoked (logged out elsewhere, password changed, user deleted): back to the login,
      // which keeps the page's address so that logging in again returns here.
      saveSession(null);
      throw error;
    }
    const next = await refresh(current);
    if (!next) throw error;
    return send(method, path, { Authorization: `Bearer ${next.accessToken}` }, body);
  }
}

/** An instance-administrator call with the pasted admin token. */
export function adminApi(method: string, path: string, body?: unknown): Promise<Json> {
  const token = adminToken();
  if (!token) return Promise.reject(new ApiError(401, "unauthorized", "paste an admin token first"));
  return send(method, path, { "x-rockit-admin-token": token }, body);
}

/** Whether the session's roles grant `bit` (1 C, 2 R, 4 U, 8 D, 16 X) on `resource`. */
export function can(resource: string, bit: number): boolean {
  return ((session()?.permissions[resource] ?? 0) & bit) !== 0;
}

/** A query string from the set values of `params` (`?a=1&b=x`, or empty). */
export function query(params: Record<string, string | number | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== "") search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}
