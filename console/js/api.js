// The API as the signed-in user calls it; the token lives in sessionStorage (gone with the tab).
const TOKEN_KEY = "genjobs.token";
let config = null;

export async function loadConfig() {
  if (!config) {
    const response = await fetch("config.json", { cache: "no-store" });
    config = response.ok ? await response.json() : { apiUrl: "", signIn: "token" };
  }
  return config;
}

export class ApiError extends Error {
  constructor(status, body) {
    super((body && (body.detail || body.title || body.message)) || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

export const token = () => sessionStorage.getItem(TOKEN_KEY);
export const setToken = (value) => sessionStorage.setItem(TOKEN_KEY, value);
export const signOut = () => { sessionStorage.removeItem(TOKEN_KEY); };

// The claims of the token (not verified here: the API's authorizer does that).
export function claims() {
  const value = token();
  if (!value) return null;
  try {
    const part = value.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(part.padEnd(part.length + ((4 - (part.length % 4)) % 4), "=")));
  } catch {
    return null;
  }
}

export function isOperator() {
  const groups = (claims() || {})["cognito:groups"];
  return Array.isArray(groups) ? groups.length > 0 : Boolean(groups);
}

export async function call(method, path, body) {
  const { apiUrl } = await loadConfig();
  const headers = { Authorization: `Bearer ${token()}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(`${apiUrl}${path}`, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed = null;
  try { parsed = text ? JSON.parse(text) : null; } catch { parsed = { message: text }; }
  if (!response.ok) throw new ApiError(response.status, parsed);
  return parsed;
}

export const get = (path) => call("GET", path);

export async function signInLocal(user, admin) {
  const response = await fetch("_local/token", {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ user, admin }),
  });
  const body = await response.json();
  if (!response.ok) throw new ApiError(response.status, body);
  setToken(body.token);
}
