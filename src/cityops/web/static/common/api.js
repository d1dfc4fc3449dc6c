// Thin fetch wrapper: bearer token, JSON, and errors turned into words (the server's message names the field).
import { t } from "./i18n.js";

const KEY = "cityops.session";

export function session() {
  try { return JSON.parse(localStorage.getItem(KEY)) || null; } catch { return null; }
}
export function saveSession(s) { localStorage.setItem(KEY, JSON.stringify(s)); }
export function clearSession() { localStorage.removeItem(KEY); }
export function hasRole(...roles) { const s = session(); return !!s && roles.some((r) => s.user.roles.includes(r)); }

export class ApiError extends Error {
  constructor(status, body) {
    const e = body && body.error;
    super(e ? e.message : `HTTP ${status}`);
    this.status = status; this.code = e && e.code; this.field = e && e.field;
  }
}

export async function api(path, { method = "GET", body, headers = {}, raw = false } = {}) {
  const s = session();
  const h = { ...headers };
  if (s) h.Authorization = `Bearer ${s.access_token}`;
  let payload = body;
  if (body !== undefined && !(body instanceof FormData) && !(body instanceof Blob)) {
    h["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  let r;
  try {
    r = await fetch(path, { method, headers: h, body: payload });
  } catch (err) {
    throw new ApiError(0, { error: { message: t("error.network") } });
  }
  if (r.status === 401 && s) { clearSession(); }
  if (raw) return r;
  const text = await r.text();
  const data = text ? JSON.parse(text) : null;
  if (!r.ok) throw new ApiError(r.status, data);
  return data;
}

export async function login(username, password) {
  const data = await api("/api/v1/auth/login", { method: "POST", body: { username, password } });
  saveSession(data);
  return data;
}

export function errorText(err) {
  if (!(err instanceof ApiError)) return String(err && err.message || err);
  return err.field ? `${err.message}` : err.message;
}
