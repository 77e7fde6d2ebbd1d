// The one way the console talks to the gateway: fetch with the token in the Authorization header (never in
// a URL). Errors become ApiError with the API's own message; a 401 signs the user out.
import type { Role } from './types';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code: string | null = null,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

const TOKEN = 'tt.console.token';
const ROLE = 'tt.console.role';
const ACTOR = 'tt.console.actor';

export interface Session {
  token: string;
  role: Role;
}

export function loadSession(): Session | null {
  try {
    const token = sessionStorage.getItem(TOKEN);
    const role = sessionStorage.getItem(ROLE) as Role | null;
    if (token && (role === 'client' || role === 'admin' || role === 'finance')) return { token, role };
  } catch {
    /* storage unavailable */
  }
  return null;
}

export function saveSession(s: Session | null): void {
  try {
    if (s) {
      sessionStorage.setItem(TOKEN, s.token);
      sessionStorage.setItem(ROLE, s.role);
    } else {
      sessionStorage.removeItem(TOKEN);
      sessionStorage.removeItem(ROLE);
      sessionStorage.removeItem(ACTOR);
    }
  } catch {
    /* storage unavailable */
  }
}

export function loadActor(): string | null {
  try {
    return sessionStorage.getItem(ACTOR);
  } catch {
    return null;
  }
}

export function saveActor(actor: string): void {
  try {
    sessionStorage.setItem(ACTOR, actor);
  } catch {
    /* storage unavailable */
  }
}

let currentToken: string | null = loadSession()?.token ?? null;
let currentActor: string | null = null;
let onUnauthorized: (() => void) | null = null;

export function setApiToken(token: string | null): void {
  currentToken = token;
}
export function setApiActor(actor: string | null): void {
  currentActor = actor;
}
export function setUnauthorizedHandler(fn: (() => void) | null): void {
  onUnauthorized = fn;
}

const GENERIC = 'Something went wrong while talking to the gateway. Please try again.';

async function errorFrom(res: Response): Promise<ApiError> {
  let message = '';
  let code: string | null = null;
  try {
    const text = await res.text();
    const body = JSON.parse(text) as unknown;
    if (body && typeof body === 'object') {
      const e = (body as { error?: unknown }).error;
      if (e && typeof e === 'object') {
        const em = (e as { message?: unknown }).message;
        if (typeof em === 'string') message = em;
        const ec = (e as { code?: unknown }).code;
        if (typeof ec === 'string') code = ec;
      } else if (typeof e === 'string') {
        message = e;
      }
      const m = (body as { message?: unknown }).message;
      if (!message && typeof m === 'string') message = m;
      if (!message && Array.isArray(m) && m.every((x) => typeof x === 'string')) message = m.join('; ');
    }
  } catch {
    /* not JSON: keep the generic message, never raw text that could be a stack */
  }
  if (!message) {
    message =
      res.status === 401
        ? 'The token was not accepted.'
        : res.status === 403
          ? 'This token may not do this.'
          : res.status === 404
            ? 'Not found.'
            : res.status >= 500
              ? `The gateway could not answer (HTTP ${res.status}). Please try again.`
              : GENERIC;
  }
  return new ApiError(res.status, message, code);
}

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  body?: unknown;
  accept?: string;
  /** use this token instead of the session's (sign-in) */
  token?: string;
  /** do not sign out on a 401 (sign-in probes) */
  quiet401?: boolean;
}

async function send(path: string, opts: RequestOptions): Promise<Response> {
  const token = opts.token ?? currentToken;
  const headers: Record<string, string> = { Accept: opts.accept ?? 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
  const method = opts.method ?? 'GET';
  if (method !== 'GET' && currentActor && path.startsWith('/admin/')) headers['X-TT-Actor'] = currentActor;
  let res: Response;
  try {
    res = await fetch(path, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body), cache: 'no-store' });
  } catch {
    throw new ApiError(0, 'Could not reach the gateway. Check your connection and try again.');
  }
  if (!res.ok) {
    const err = await errorFrom(res);
    if (res.status === 401 && !opts.quiet401 && onUnauthorized) onUnauthorized();
    throw err;
  }
  return res;
}

export async function api<T>(path: string, opts: RequestOptions = {}): Promise<T> {
  const res = await send(path, opts);
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  if (!text) return undefined as T;
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new ApiError(res.status, 'The gateway answered with something other than JSON.');
  }
}

/** Fetches a CSV with the token in the header and saves it through a Blob and an <a download> click. */
export async function downloadCsv(path: string, filename: string): Promise<void> {
  const res = await send(path, { accept: 'text/csv' });
  const blob = await res.blob();
  const url = URL.createObjectURL(blob.type ? blob : new Blob([blob], { type: 'text/csv' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  a.rel = 'noopener';
  a.style.display = 'none';
  document.body.appendChild(a);
  a.click();
  a.remove();
  window.setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** Fetches any authorized content (a task's video) and saves it. */
export async function downloadBlob(path: string, filename: string): Promise<void> {
  const res = await send(path, { accept: '*/*' });
  const blob = await res.blob();
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  a.style.display = 'none';
  document.body.appendChild(a);
  a.click();
  a.remove();
  window.setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** `?a=1&b=x` from the defined, non-empty values */
export function qs(params: Record<string, string | number | null | undefined>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : '';
}

export const enc = encodeURIComponent;
