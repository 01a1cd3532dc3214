// The REST API (docs/api.md) as the console calls it: the signed-in token
// from sessionStorage (never a URL), the organization chosen, and the
// console's own agent and session ids, so that the audit trail tells the
// console's writes apart. Errors are the API's problems, thrown as ApiError.

const TOKEN_KEY = 'cairn.console.token';
const ORG_KEY = 'cairn.console.org';
const SESSION_KEY = 'cairn.console.session';

export const session = {
  get token() { return sessionStorage.getItem(TOKEN_KEY); },
  set token(value) {
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
    else sessionStorage.removeItem(TOKEN_KEY);
  },
  get org() { return sessionStorage.getItem(ORG_KEY) || ''; },
  set org(value) {
    if (value) sessionStorage.setItem(ORG_KEY, value);
    else sessionStorage.removeItem(ORG_KEY);
  },
  // One Cairn session id per tab, so "everything this console tab did" is
  // one audit filter.
  get id() {
    let id = sessionStorage.getItem(SESSION_KEY);
    if (!id) {
      const bytes = new Uint8Array(8);
      crypto.getRandomValues(bytes);
      id = 'console-' + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
      sessionStorage.setItem(SESSION_KEY, id);
    }
    return id;
  },
  // The principal's whoami, kept for the tab.
  whoami: null,
};

const RETRIES_MAX = 4;
const RETRY_DELAY_MS = 250;

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || ('HTTP ' + status));
    this.status = status;
    this.code = problem.code || 'http_' + status;
    this.problem = problem;
  }
}

// A store path segment by segment, so that `/a b/c.md` stays a path.
export function encodePath(path) {
  return path.split('/').map(encodeURIComponent).join('/');
}

function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params || {})) {
    if (value !== undefined && value !== null && value !== '' && value !== false) {
      search.set(name, String(value));
    }
  }
  const text = search.toString();
  return text ? '?' + text : '';
}

export function headers(extra) {
  const all = {
    'X-Cairn-Agent': 'console',
    'X-Cairn-Session': session.id,
  };
  if (session.token) all.Authorization = 'Bearer ' + session.token;
  // Only the operator may name an organization; everyone else's is their own.
  if (session.org && session.whoami && session.whoami.principal === 'operator') {
    all['X-Cairn-Org'] = session.org;
  }
  return Object.assign(all, extra || {});
}

// Sends one request; answers the Response when it is 2xx, else throws the
// problem as an ApiError.
export async function send(method, path, { params, body, json, extraHeaders, signal } = {}) {
  const init = { method, headers: headers(extraHeaders), signal, cache: 'no-store' };
  if (json !== undefined) {
    init.body = JSON.stringify(json);
    init.headers['Content-Type'] = 'application/json';
  } else if (body !== undefined) {
    init.body = body;
    init.headers['Content-Type'] = 'text/plain; charset=utf-8';
  }
  // A 503 (`unavailable`, `not_leader`: no leader yet, or a read-index round
  // that timed out) applied nothing and is retryable: try again a few times.
  let response;
  for (let attempt = 1; ; attempt += 1) {
    response = await fetch(path + query(params), init);
    if (response.status !== 503 || attempt >= RETRIES_MAX) break;
    await new Promise((resolve) => setTimeout(resolve, RETRY_DELAY_MS * attempt));
  }
  if (!response.ok) {
    let problem = {};
    try { problem = await response.json(); } catch (_) { problem = {}; }
    if (response.status === 401 && session.whoami) {
      window.dispatchEvent(new CustomEvent('cairn:unauthenticated'));
    }
    throw new ApiError(response.status, problem);
  }
  return response;
}

async function json(method, path, options) {
  const response = await send(method, path, options);
  return response.json();
}

const store = (name) => '/v1/stores/' + encodeURIComponent(name);

export const api = {
  whoami: () => json('GET', '/v1/whoami'),
  orgs: () => json('GET', '/v1/orgs'),
  createOrg: (name) => json('POST', '/v1/orgs', { json: { name } }),
  stores: () => json('GET', '/v1/stores'),
  store: (name) => json('GET', store(name)),
  createStore: (name, owner) => json('PUT', store(name), owner ? { json: { owner } } : {}),
  deleteStore: (name) => json('DELETE', store(name)),
  tree: (name, dir, { depth, revision } = {}) =>
    json('GET', store(name) + '/tree' + (dir && dir !== '/' ? encodePath(dir.replace(/\/$/, '')) : ''),
      { params: { depth, revision } }),
  // A file's content with its version and the store revision it was read at.
  read: async (name, path, { version, revision } = {}) => {
    const response = await send('GET', store(name) + '/files' + encodePath(path), { params: { version, revision } });
    return {
      text: await response.text(),
      version: Number(response.headers.get('X-Cairn-Version')),
      revision: Number(response.headers.get('X-Cairn-Revision')),
    };
  },
  stat: (name, path, { version, revision } = {}) =>
    json('GET', store(name) + '/stat' + encodePath(path), { params: { version, revision } }),
  // Writes only if the file is still at `version` (or absent, with null).
  write: (name, path, text, version) =>
    json('PUT', store(name) + '/files' + encodePath(path), {
      body: text,
      extraHeaders: version === null ? { 'If-None-Match': '*' } : { 'If-Match': '"' + version + '"' },
    }),
  remove: (name, path, version) =>
    json('DELETE', store(name) + '/files' + encodePath(path), {
      extraHeaders: { 'If-Match': '"' + version + '"' },
    }),
  history: (name, path, { limit, before } = {}) =>
    json('GET', store(name) + '/history' + encodePath(path), { params: { limit, before } }),
  diff: async (name, path, from, to) =>
    (await send('GET', store(name) + '/diff' + encodePath(path), { params: { from, to } })).text(),
  rollback: (name, request) => json('POST', store(name) + '/rollback', { json: request }),
  redact: (name, request) => json('POST', store(name) + '/redact', { json: request }),
  audit: (params) => json('GET', '/v1/audit', { params }),
  verify: (name) => json('GET', store(name) + '/audit/verify'),
  users: (org) => json('GET', '/v1/orgs/' + encodeURIComponent(org) + '/users'),
  createUser: (org, name, role) =>
    json('POST', '/v1/orgs/' + encodeURIComponent(org) + '/users', { json: { name, role } }),
  tokens: (org, user) =>
    json('GET', '/v1/orgs/' + encodeURIComponent(org) + '/users/' + encodeURIComponent(user) + '/tokens'),
  createToken: (org, user, request) =>
    json('POST', '/v1/orgs/' + encodeURIComponent(org) + '/users/' + encodeURIComponent(user) + '/tokens',
      { json: request }),
  revokeToken: (id) => json('DELETE', '/v1/tokens/' + encodeURIComponent(id)),
  grants: (name) => json('GET', store(name) + '/grants'),
  setGrant: (name, user, access) =>
    json('PUT', store(name) + '/grants/' + encodeURIComponent(user), { json: { access } }),
  removeGrant: (name, user) => json('DELETE', store(name) + '/grants/' + encodeURIComponent(user)),
  status: () => json('GET', '/v1/admin/status'),
};
