// app.js - the dashboard's entry point: reads the route table, restores or
// asks for a session, starts the live stream, draws the frame (navigation,
// stream state, user and role, daemon status) and mounts one page at a
// time from the location hash (#/overview, #/incidents/42, ...). A page
// is a module whose mount(root, params) returns its cleanup.
//
// Pages and buttons follow the daemon: a page whose route the daemon does
// not have is not listed, and one the role may not use is not shown.

import { h, replace, message, fmtDuration } from './dom.js';
import { api, session, loadRoutes, whoami, login, endSession, onLogout, has, can, ApiError } from './api.js';
import * as stream from './live.js';

const PAGES = [
	{ id: 'overview', label: 'Overview', load: () => import('./view_overview.js'), show: () => true },
	{ id: 'processes', label: 'Processes', load: () => import('./view_processes.js'), show: () => has('GET', '/api/v1/processes') },
	{ id: 'events', label: 'Events', load: () => import('./view_events.js'), show: () => has('GET', '/api/v1/events') },
	{ id: 'anomalies', label: 'Anomalies', load: () => import('./view_anomalies.js'), show: () => has('GET', '/api/v1/anomalies') },
	{ id: 'forecasts', label: 'Forecasts', load: () => import('./view_forecasts.js'), show: () => has('GET', '/api/v1/forecast') || has('GET', '/api/v1/predictions') },
	{ id: 'incidents', label: 'Incidents', load: () => import('./view_incidents.js'), show: () => has('GET', '/api/v1/incidents') },
	{ id: 'ask', label: 'Ask', load: () => import('./view_ask.js'), show: () => can('POST', '/api/v1/analyze') },
	{ id: 'admin', label: 'Users', load: () => import('./view_admin.js'), show: () => can('GET', '/api/v1/users') },
];

const app = document.getElementById('app');
let unmount = null;
let statusTimer = null;
let expiryTimer = null;
let frame = null;

function pageFromHash() {
	const parts = location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
	const page = PAGES.find((p) => p.id === parts[0] && p.show()) || PAGES[0];
	return { page, params: page.id === parts[0] ? parts.slice(1) : [] };
}

// ---- login

function showLogin(note) {
	teardown();
	const user = h('input', { id: 'login-user', name: 'username', autocomplete: 'username', required: true });
	const pass = h('input', { id: 'login-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
	const status = h('div', { class: 'login-status' }, note ? message('info', note) : null);
	const button = h('button', { type: 'submit', class: 'primary', id: 'login-submit', text: 'Log in' });
	const form = h(
		'form',
		{ class: 'login', id: 'login-form', method: 'post', action: '/', novalidate: true },
		h('div', { class: 'login-brand' }, h('img', { src: '/ui/favicon.svg', alt: '', width: 36, height: 36 }), h('h1', { text: 'kpulse' })),
		h('p', { class: 'note', text: 'Kernel telemetry dashboard. Log in with a kpulse user.' }),
		h('label', { for: 'login-user', text: 'User' }),
		user,
		h('label', { for: 'login-password', text: 'Password' }),
		pass,
		button,
		status
	);
	form.addEventListener('submit', async (ev) => {
		ev.preventDefault();
		if (!user.value || !pass.value) {
			replace(status, message('error', 'Enter a user name and a password.'));
			return;
		}
		button.disabled = true;
		replace(status, message('info', 'Logging in…'));
		try {
			await login(user.value, pass.value);
			pass.value = '';
			await enter();
		} catch (e) {
			let text = e.message;
			if (e instanceof ApiError && e.status === 401) text = 'Wrong user name or password.';
			replace(status, message('error', text));
		} finally {
			button.disabled = false;
		}
	});
	replace(app, h('main', { class: 'login-page' }, form));
	user.focus();
}

// ---- the frame

function buildFrame() {
	const nav = h(
		'nav',
		{ class: 'nav', 'aria-label': 'pages' },
		PAGES.filter((p) => p.show()).map((p) => h('a', { href: `#/${p.id}`, dataset: { page: p.id }, text: p.label }))
	);
	const dot = h('span', { class: 'stream-dot', title: 'live stream' });
	const streamText = h('span', { class: 'stream-text', text: 'connecting' });
	const logout = h('button', { type: 'button', class: 'ghost', id: 'logout', text: 'Log out' });
	logout.addEventListener('click', () => endSession(null));
	const footer = h('footer', { class: 'statusbar', id: 'statusbar' });
	const view = h('main', { class: 'view', id: 'view' });
	const header = h(
		'header',
		{ class: 'topbar' },
		h('a', { class: 'brand', href: '#/overview' }, h('img', { src: '/ui/favicon.svg', alt: '', width: 22, height: 22 }), h('span', { text: 'kpulse' })),
		nav,
		h(
			'div',
			{ class: 'who' },
			h('span', { class: 'stream' }, dot, streamText),
			h('span', { class: 'user', id: 'whoami' }, h('strong', { text: session.user }), h('span', { class: `role role-${session.role}`, id: 'role', text: session.role })),
			logout
		)
	);
	replace(app, header, view, footer);
	const offState = stream.onState((s) => {
		dot.className = `stream-dot stream-${s}`;
		streamText.textContent = { idle: 'offline', connecting: 'connecting', live: 'live', retrying: 'reconnecting' }[s] || s;
	});
	frame = { nav, view, footer, offState };
}

async function refreshStatus() {
	if (!frame) return;
	try {
		const s = await api('/api/v1/status');
		const items = [
			`kpulse ${s.version}`,
			`up ${fmtDuration(s.uptime_s)}`,
			`${s.rounds.count} rounds every ${s.interval_s} s`,
			`probes ${s.probes.attached}/${s.probes.total}`,
			`${s.rounds.series} series`,
			s.store.writable ? 'store writable' : 'store NOT writable',
		];
		replace(frame.footer, items.map((t, i) => h('span', { class: i === 5 && !s.store.writable ? 'bad' : '', text: t })));
	} catch (e) {
		if (frame) replace(frame.footer, h('span', { class: 'bad', text: `status: ${e.message}` }));
	}
}

async function route() {
	if (!frame) return;
	const { page, params } = pageFromHash();
	if (unmount) {
		unmount();
		unmount = null;
	}
	for (const a of frame.nav.querySelectorAll('a')) a.classList.toggle('active', a.dataset.page === page.id);
	document.title = `kpulse · ${page.label}`;
	const root = h('div', { class: `page page-${page.id}`, dataset: { page: page.id } });
	replace(frame.view, root);
	try {
		const mod = await page.load();
		if (!root.isConnected) return;
		const cleanup = mod.mount(root, params);
		unmount = () => cleanup && cleanup();
	} catch (e) {
		console.error(e);
		replace(root, message('error', `This page failed: ${e.message}`));
	}
}

function teardown() {
	if (unmount) unmount();
	unmount = null;
	clearInterval(statusTimer);
	clearTimeout(expiryTimer);
	stream.stop();
	if (frame) frame.offState();
	frame = null;
}

async function enter() {
	buildFrame();
	stream.start();
	refreshStatus();
	statusTimer = setInterval(refreshStatus, 10000);
	if (session.expiresAt) {
		const ms = session.expiresAt * 1000 - Date.now();
		expiryTimer = setTimeout(() => endSession('Your session expired; log in again.'), Math.max(0, Math.min(ms, 2 ** 31 - 1)));
	}
	await route();
}

window.addEventListener('hashchange', route);
onLogout((reason) => showLogin(reason));

async function boot() {
	try {
		await loadRoutes();
	} catch (e) {
		replace(app, h('main', { class: 'login-page' }, message('error', `kpulse does not answer: ${e.message}`)));
		return;
	}
	if (!has('GET', '/api/v1/auth/me')) {
		replace(app, h('main', { class: 'login-page' }, message('error', 'This kpulse is too old for the dashboard (no /api/v1/auth/me).')));
		return;
	}
	if (session.token) {
		try {
			await whoami();
			await enter();
			return;
		} catch {
			endSession(null);
		}
	}
	showLogin();
}

boot();
