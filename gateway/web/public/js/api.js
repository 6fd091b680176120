// The API client. The access token lives only in this module's memory; the refresh token is an httpOnly cookie
// the page cannot read, rotated through /api/auth/web/refresh with the double-submit CSRF header.
export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details || {};
  }
}

let accessToken = null;
let refreshing = null;
const listeners = new Set();

export function onSessionChange(fn) { listeners.add(fn); }
function changed() { listeners.forEach((fn) => fn(accessToken !== null)); }

function csrfToken() {
  const hit = document.cookie.split('; ').find((c) => c.startsWith('zx_csrf='));
  return hit ? decodeURIComponent(hit.slice('zx_csrf='.length)) : '';
}

async function asError(resp) {
  let body = null;
  try { body = await resp.json(); } catch { /* not JSON */ }
  const e = body && body.error;
  if (e && e.code) return new ApiError(resp.status, e.code, e.message, e.details);
  return new ApiError(resp.status, resp.status >= 500 ? 'server_error' : 'http_' + resp.status, resp.statusText);
}

async function post(path, body, headers = {}) {
  let resp;
  try {
    resp = await fetch(path, {
      method: 'POST', credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, 'network', 'network error');
  }
  if (!resp.ok) throw await asError(resp);
  return resp.status === 204 ? null : resp.json();
}

export function isLoggedIn() { return accessToken !== null; }

export async function login(username, password) {
  const session = await post('/api/auth/web/login', { username, password });
  accessToken = session.access_token;
  changed();
}

export async function register(username, password) {
  return post('/api/auth/register', { username, password });
}

/** Restore the session from the cookie (page load) or renew the access token. One refresh at a time. */
export function refresh() {
  if (!csrfToken()) { accessToken = null; return Promise.resolve(false); }  // no cookie session to resume
  if (!refreshing) {
    refreshing = post('/api/auth/web/refresh', undefined, { 'X-CSRF-Token': csrfToken() })
      .then((s) => { accessToken = s.access_token; changed(); return true; })
      .catch(() => { accessToken = null; changed(); return false; })
      .finally(() => { refreshing = null; });
  }
  return refreshing;
}

export async function logout() {
  const headers = { 'X-CSRF-Token': csrfToken() };
  if (accessToken) headers.Authorization = `Bearer ${accessToken}`;
  try { await post('/api/auth/web/logout', undefined, headers); } finally { accessToken = null; changed(); }
}

/** Call /api/<path>. `json` sends JSON, `form` a FormData (file uploads); renews the token once on a 401. */
export async function api(path, { method = 'GET', json, form, headers: extra = {}, retry = true } = {}) {
  const headers = { ...extra };
  if (accessToken) headers.Authorization = `Bearer ${accessToken}`;
  let body;
  if (json !== undefined) { headers['Content-Type'] = 'application/json'; body = JSON.stringify(json); }
  if (form !== undefined) body = form;
  let resp;
  try {
    resp = await fetch(`/api/${path}`, { method, headers, body, credentials: 'same-origin' });
  } catch {
    throw new ApiError(0, 'network', 'network error');
  }
  if (resp.status === 401 && retry && (await refresh())) {
    return api(path, { method, json, form, headers: extra, retry: false });
  }
  if (!resp.ok) throw await asError(resp);
  if (resp.status === 204) return null;
  const type = resp.headers.get('content-type') || '';
  return type.includes('json') ? resp.json() : resp.blob();
}

export async function me() { return api('auth/me'); }

/** Server-sent events over fetch (EventSource cannot send the Authorization header). Calls onEvent(name, data)
 *  for each event until the stream ends or `signal` aborts; returns when the stream closes. */
export async function sse(path, onEvent, signal) {
  const headers = { Accept: 'text/event-stream' };
  if (accessToken) headers.Authorization = `Bearer ${accessToken}`;
  let resp;
  try {
    resp = await fetch(`/api/${path}`, { headers, signal, credentials: 'same-origin' });
  } catch (err) {
    if (signal && signal.aborted) return;
    throw new ApiError(0, 'network', 'network error');
  }
  if (resp.status === 401 && (await refresh())) return sse(path, onEvent, signal);
  if (!resp.ok) throw await asError(resp);
  const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value.replace(/\r\n/g, '\n');
      let cut;
      while ((cut = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        let name = 'message';
        const data = [];
        for (const line of block.split('\n')) {
          if (line.startsWith('event:')) name = line.slice(6).trim();
          else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
        }
        if (data.length) {
          let parsed = data.join('\n');
          try { parsed = JSON.parse(parsed); } catch { /* plain text */ }
          onEvent(name, parsed);
        }
      }
    }
  } catch (err) {
    if (!(signal && signal.aborted)) throw err;
  }
}

/** An authenticated binary (an image) as an object URL for <img src>. */
export async function blobUrl(path) {
  const blob = await api(path);
  return URL.createObjectURL(blob);
}

/** Keep an SSE subscription open like EventSource does: servers end their streams after a time limit, so
 *  reconnect (after `retryMs`) until `signal` aborts; at most `maxReconnects` times (bounded). */
export async function sseLoop(path, onEvent, signal, { retryMs = 1000, maxReconnects = 10000 } = {}) {
  for (let i = 0; i <= maxReconnects && !(signal && signal.aborted); i += 1) {
    try {
      await sse(path, onEvent, signal);
    } catch (err) {
      if (err.status === 404 || err.status === 403) return;  // gone or not allowed: reconnecting will not help
    }
    if (signal && signal.aborted) return;
    await new Promise((resolve) => setTimeout(resolve, retryMs));
  }
}

/** An authenticated download (PDF, HTML, FHIR) saved as a file: fetched with the in-memory token, handed to the
 *  browser as a blob through a temporary object URL (never a URL that carries the token). */
export async function download(path, filename) {
  const headers = {};
  if (accessToken) headers.Authorization = `Bearer ${accessToken}`;
  let resp;
  try {
    resp = await fetch(`/api/${path}`, { headers, credentials: 'same-origin' });
  } catch {
    throw new ApiError(0, 'network', 'network error');
  }
  if (resp.status === 401 && (await refresh())) return download(path, filename);
  if (!resp.ok) throw await asError(resp);
  const blob = await resp.blob();
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
  return blob;
}
