// api.js - the one way the dashboard talks to kpulse: JSON over fetch with
// the bearer token in the Authorization header, the session (who is logged
// in, with which role) and the route table read from /openapi.json, which
// decides which pages and buttons exist.
//
// The token lives in this module's memory and in sessionStorage (this tab
// only, gone when it closes) so a reload keeps the session; never in a URL
// or a cookie. A 401 on any call ends the session.

const TOKEN_KEY = 'kpulse.token';
const ROLES = { none: 0, viewer: 1, operator: 2, admin: 3 };

export class ApiError extends Error {
	constructor(status, code, message) {
		super(message);
		this.status = status;
		this.code = code;
	}
}

export const session = {
	token: sessionStorage.getItem(TOKEN_KEY),
	user: null,
	role: null,
	expiresAt: null,
	routes: new Map(), // "GET /api/v1/live" -> minimum role name
	version: null,
};

const listeners = new Set();

// fn(reason) is called when the session ends (logout, expiry, 401).
export function onLogout(fn) {
	listeners.add(fn);
	return () => listeners.delete(fn);
}

export function endSession(reason) {
	const had = session.token !== null;
	session.token = null;
	session.user = session.role = session.expiresAt = null;
	sessionStorage.removeItem(TOKEN_KEY);
	if (had) for (const fn of listeners) fn(reason);
}

export async function api(path, { method = 'GET', body, signal, query } = {}) {
	const headers = { Accept: 'application/json' };
	if (session.token) headers.Authorization = `Bearer ${session.token}`;
	if (body !== undefined) headers['Content-Type'] = 'application/json';
	let url = path;
	if (query) {
		const q = new URLSearchParams();
		for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null) q.set(k, v);
		const s = q.toString();
		if (s) url += `?${s}`;
	}
	const r = await fetch(url, {
		method,
		headers,
		body: body === undefined ? undefined : JSON.stringify(body),
		signal,
		credentials: 'omit',
		cache: 'no-store',
	});
	if (r.status === 204) return null;
	let data = null;
	const text = await r.text();
	if (text) {
		try {
			data = JSON.parse(text);
		} catch {
			data = null;
		}
	}
	if (!r.ok) {
		const e = data && data.error ? data.error : {};
		if (r.status === 401 && session.token && path !== '/api/v1/auth/login')
			endSession('Your session ended; log in again.');
		throw new ApiError(r.status, e.code || 'error', e.message || `HTTP ${r.status}`);
	}
	return data;
}

// The route table: which endpoints this daemon has, and the role each needs.
export async function loadRoutes() {
	const doc = await api('/openapi.json');
	session.routes.clear();
	session.version = doc && doc.info ? doc.info.version : null;
	for (const [path, item] of Object.entries((doc && doc.paths) || {}))
		for (const [method, op] of Object.entries(item))
			session.routes.set(`${method.toUpperCase()} ${path}`, op['x-min-role'] || 'viewer');
}

// Whether the daemon has this route (pattern as in the route table).
export function has(method, pattern) {
	return session.routes.has(`${method} ${pattern}`);
}

// Whether the route exists and the logged-in role may use it.
export function can(method, pattern) {
	const need = session.routes.get(`${method} ${pattern}`);
	if (need === undefined || !session.role) return false;
	return (ROLES[session.role] || 0) >= (ROLES[need] ?? 99);
}

export async function login(username, password) {
	const r = await api('/api/v1/auth/login', { method: 'POST', body: { username, password } });
	session.token = r.token;
	sessionStorage.setItem(TOKEN_KEY, r.token);
	try {
		await whoami();
	} catch (e) {
		endSession(null);
		throw e;
	}
}

// Fills session.user / role / expiresAt from GET /api/v1/auth/me.
export async function whoami() {
	const me = await api('/api/v1/auth/me');
	session.user = me.user;
	session.role = me.role;
	session.expiresAt = me.expires_at;
	return me;
}

export function roleAtLeast(role) {
	return (ROLES[session.role] || 0) >= ROLES[role];
}

// The last windowS seconds in whole steps: queries that share it share
// their time stamps (so their series line up) and the API's query cache.
export function window_(windowS, step) {
	const to = Math.floor(Date.now() / 1000 / step) * step;
	return { from: to - windowS, to, step };
}

// GET /api/v1/query_range: {series: [{name, labels, type, points: [[ts, v]]}], step}
export function queryRange(series, { from, to, step, agg, signal } = {}) {
	return api('/api/v1/query_range', { query: { series, from, to, step, agg }, signal });
}
