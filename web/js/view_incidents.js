// view_incidents.js - incidents: the list (GET /api/v1/incidents) and one
// incident (#/incidents/ID: GET /api/v1/incidents/{id}) with its evidence,
// timeline, analysis and comments. Acknowledge, resolve, analyze and
// comment are buttons only where the daemon has the route and the role
// may use it; the routes are found in the route table by their last path
// segment, so their exact names follow the API.

import { h, panel, replace, fmtDateTime, fmtDuration, message, renderValue, pick } from './dom.js';
import { api, session, can } from './api.js';
import { subscribe } from './live.js';
import { timeChart, joinSeries, palette } from './charts.js';
import { queryRange } from './api.js';
import { parseKey } from './view_anomalies.js';

const ID_PARAM = /\{[^}]+\}/;

// The pattern of an incident action route ("POST /api/v1/incidents/{id}/ack").
function actionRoute(method, names) {
	for (const key of session.routes.keys()) {
		const [m, path] = key.split(' ');
		if (m !== method || !path.startsWith('/api/v1/incidents/')) continue;
		const rest = path.slice('/api/v1/incidents/'.length).split('/');
		if (rest.length === 2 && ID_PARAM.test(rest[0]) && names.includes(rest[1])) return path;
	}
	return null;
}

const fill = (pattern, id) => pattern.replace(ID_PARAM, encodeURIComponent(id));
const detailRoute = () => {
	for (const key of session.routes.keys()) {
		const [m, path] = key.split(' ');
		if (m === 'GET' && /^\/api\/v1\/incidents\/\{[^}]+\}$/.test(path)) return path;
	}
	return null;
};

const idOf = (i) => pick(i, 'id', 'incident_id');
const titleOf = (i) => pick(i, 'title', 'summary', 'name', 'series') || `incident ${idOf(i)}`;
const stateOf = (i) => String(pick(i, 'state', 'status') || (pick(i, 'resolved_at', 'resolved') ? 'resolved' : 'open'));
const startOf = (i) => pick(i, 'opened_at', 'started_at', 'start', 'start_ts', 'created_at', 'timestamp');
const endOf = (i) => pick(i, 'resolved_at', 'end', 'end_ts', 'closed_at');

function stateBadge(i) {
	const s = stateOf(i);
	return h('span', { class: `badge state-${s.replace(/[^a-z]/gi, '')}`, text: s });
}

function sevBadge(i) {
	const s = pick(i, 'severity');
	return s ? h('span', { class: `badge sev-${s}`, text: s }) : null;
}

function listView(root, abort) {
	const box = h('div', { class: 'table-wrap' });
	const stateSelect = h(
		'select',
		{ class: 'inline-select', 'aria-label': 'state' },
		h('option', { value: 'active', text: 'open and acknowledged' }),
		h('option', { value: 'all', text: 'all' })
	);
	replace(root, panel('Incidents', { name: 'incidents', note: 'Newest first. Select one for its evidence, timeline and analysis.', tools: stateSelect }, box));
	let list = [];

	function render() {
		const shown = stateSelect.value === 'all' ? list : list.filter((i) => stateOf(i) !== 'resolved' && stateOf(i) !== 'closed');
		if (!shown.length) {
			replace(box, message('info', list.length ? 'No open incidents.' : 'No incidents.'));
			return;
		}
		replace(
			box,
			h(
				'table',
				{ class: 'data clickable', id: 'incident-table' },
				h('thead', {}, h('tr', {}, ['severity', 'state', 'incident', 'opened', 'duration'].map((c) => h('th', { text: c })))),
				h(
					'tbody',
					{},
					shown.map((i) => {
						const start = startOf(i);
						const end = endOf(i);
						const tr = h(
							'tr',
							{ tabindex: '0', dataset: { id: idOf(i) } },
							h('td', {}, sevBadge(i)),
							h('td', {}, stateBadge(i)),
							h('td', { class: 'title' }, h('a', { href: `#/incidents/${encodeURIComponent(idOf(i))}`, text: titleOf(i) })),
							h('td', { class: 'num', text: fmtDateTime(start) }),
							h('td', { class: 'num', text: Number.isFinite(start) ? fmtDuration((end || Date.now() / 1000) - start) : '–' })
						);
						const open = () => (location.hash = `#/incidents/${encodeURIComponent(idOf(i))}`);
						tr.addEventListener('click', (ev) => ev.target.tagName !== 'A' && open());
						tr.addEventListener('keydown', (ev) => ev.key === 'Enter' && open());
						return tr;
					})
				)
			)
		);
	}

	async function load() {
		const r = await api('/api/v1/incidents', { query: stateSelect.value === 'all' ? { limit: 200 } : undefined, signal: abort.signal }).catch((e) => {
			// An API without the limit parameter: ask plainly.
			if (e.status === 400) return api('/api/v1/incidents', { signal: abort.signal });
			throw e;
		});
		list = Array.isArray(r) ? r : r.incidents || [];
		render();
	}
	stateSelect.addEventListener('change', () => load().catch(fail));
	const fail = (e) => {
		if (!abort.signal.aborted) replace(box, message('error', `Incidents: ${e.message}`));
	};
	load().catch(fail);
	const timer = setInterval(() => load().catch(fail), 15000);
	return () => clearInterval(timer);
}

function timelineList(items) {
	if (!Array.isArray(items) || !items.length) return message('info', 'No timeline entries.');
	return h(
		'ol',
		{ class: 'timeline' },
		items.map((t) => {
			const ts = pick(t, 'ts', 'timestamp', 'time', 'at');
			const kind = pick(t, 'kind', 'type', 'action', 'event');
			const text = pick(t, 'detail', 'text', 'message');
			const who = pick(t, 'who', 'user', 'by', 'author');
			return h(
				'li',
				{ dataset: { kind: kind || '' } },
				h('span', { class: 'when', text: fmtDateTime(ts) }),
				kind ? h('span', { class: 'badge', text: String(kind) }) : null,
				who ? h('span', { class: 'who', text: String(who) }) : null,
				text !== undefined ? h('div', { class: 'what', text: typeof text === 'object' ? JSON.stringify(text) : String(text) }) : null,
				typeof t === 'object' ? extraFields(t, ['ts', 'timestamp', 'time', 'at', 'detail', 'text', 'message', 'event', 'kind', 'type', 'action', 'who', 'user', 'by', 'author']) : null
			);
		})
	);
}

function extraFields(obj, known) {
	const rest = Object.fromEntries(Object.entries(obj).filter(([k]) => !known.includes(k)));
	return Object.keys(rest).length ? h('div', { class: 'extra' }, renderValue(rest, 1)) : null;
}

// The analyses of an incident, newest first: the built-in analyst's
// reading and the LLM's answers, each with where it came from.
function analysisBlock(inc) {
	const list = pick(inc, 'analyses');
	if (Array.isArray(list) && list.length) {
		return h(
			'ol',
			{ class: 'analyses' },
			list
				.slice()
				.sort((a, b) => (pick(b, 'ts') || 0) - (pick(a, 'ts') || 0))
				.map((a) => {
					const source = [pick(a, 'analyst'), pick(a, 'provider'), pick(a, 'model')].filter(Boolean).join(' · ');
					return h(
						'li',
						{},
						h('span', { class: 'when', text: fmtDateTime(pick(a, 'ts')) }),
						h('span', { class: `badge ${pick(a, 'status') === 'failed' ? 'sev-warning' : ''}`, text: source || 'analysis' }),
						pick(a, 'question') ? h('div', { class: 'muted', text: `Q: ${a.question}` }) : null,
						h('div', { class: 'prose', text: String(pick(a, 'text') || '') }),
						pick(a, 'detail') ? h('details', { class: 'provenance' }, h('summary', { text: 'details' }), renderValue(a.detail, 1)) : null
					);
				})
		);
	}
	const a = pick(inc, 'analysis', 'explanation', 'reading');
	if (!a) return message('info', 'No analysis yet.');
	if (typeof a === 'string') return h('div', { class: 'prose', text: a });
	const text = pick(a, 'text', 'answer', 'summary', 'explanation');
	return h('div', {}, text ? h('div', { class: 'prose', text: String(text) }) : null, extraFields(a, ['text', 'answer', 'summary', 'explanation']));
}

function detailView(root, abort, id) {
	const head = h('div', { class: 'incident-head' });
	const actions = h('div', { class: 'actions', id: 'incident-actions' });
	const evidence = h('div', { class: 'evidence' });
	const timeline = h('div');
	const analysis = h('div');
	const comments = h('div');
	const status = h('div', { class: 'action-status' });
	const charts = [];
	replace(
		root,
		h('p', {}, h('a', { href: '#/incidents', class: 'back', text: '← all incidents' })),
		panel('Incident', { name: 'incident' }, head, actions, status),
		h('div', { class: 'grid2' }, panel('Evidence', { name: 'evidence' }, evidence), panel('Timeline', { name: 'timeline' }, timeline)),
		panel('Analysis', { name: 'analysis' }, analysis),
		panel('Comments', { name: 'comments' }, comments)
	);

	const routes = {
		ack: actionRoute('POST', ['ack', 'acknowledge']),
		resolve: actionRoute('POST', ['resolve']),
		analyze: actionRoute('POST', ['analyze', 'analyse']),
		comment: actionRoute('POST', ['comments', 'comment']),
	};

	async function act(route, body, label) {
		replace(status, message('info', `${label}…`));
		try {
			await api(fill(route, id), { method: 'POST', body: body || {} });
			replace(status, message('ok', `${label}: done.`));
			await load();
		} catch (e) {
			replace(status, message('error', `${label}: ${e.message}`));
		}
	}

	function button(key, label, body) {
		const route = routes[key];
		if (!route || !can('POST', route)) return null;
		const b = h('button', { type: 'button', class: key === 'resolve' ? 'primary' : '', dataset: { action: key }, text: label });
		b.addEventListener('click', () => act(route, body, label));
		return b;
	}

	async function evidenceCharts(inc) {
		// Series the evidence names ("name{k=v}:stat") are drawn around the incident.
		const ev = pick(inc, 'evidence') || {};
		const keys = [];
		const walk = (v) => {
			if (keys.length >= 4 || !v) return;
			if (typeof v === 'string' && /^kpulse_[a-z0-9_]+(\{[^}]*\})?(:\w+)?$/.test(v)) keys.push(v);
			else if (Array.isArray(v)) v.forEach(walk);
			else if (typeof v === 'object') Object.values(v).forEach(walk);
		};
		walk(ev);
		const start = startOf(inc);
		if (!keys.length || !Number.isFinite(start)) return [];
		const end = endOf(inc) || Date.now() / 1000;
		const from = start - 900;
		const to = Math.min(Date.now() / 1000, end + 300);
		const out = [];
		for (const key of [...new Set(keys)]) {
			const k = parseKey(key);
			const sel = Object.keys(k.labels).length ? `${k.name}{${Object.entries(k.labels).map(([a, b]) => `${a}="${b}"`).join(',')}}` : k.name;
			try {
				const r = await queryRange(sel, { from, to, step: Math.max(1, Math.round((to - from) / 240)), agg: { rate: 'rate', p99: 'p99' }[k.stat] || 'avg', signal: abort.signal });
				const s = (r.series || [])[0];
				if (!s || !s.points.length) continue;
				const c = timeChart({ name: `evidence-${out.length}`, height: 140, series: [{ label: key, color: palette[out.length] }], spans: () => [{ from: start, to: end, severity: pick(inc, 'severity') || 'warning' }] });
				const j = joinSeries([s]);
				c.setData(j.xs, j.ys);
				charts.push(c);
				out.push(c.el);
			} catch {
				/* a series the store does not have: no chart */
			}
		}
		return out;
	}

	async function load() {
		const r = await api(fill(detailRoute(), id), { signal: abort.signal });
		const inc = r && r.incident ? r.incident : r;
		const start = startOf(inc);
		const end = endOf(inc);
		replace(
			head,
			h('h3', {}, sevBadge(inc), stateBadge(inc), ' ', titleOf(inc)),
			h(
				'p',
				{ class: 'note' },
				`Opened ${fmtDateTime(start)}${end ? `, resolved ${fmtDateTime(end)}` : ''}${Number.isFinite(start) ? ` (${fmtDuration((end || Date.now() / 1000) - start)})` : ''}` +
					(pick(inc, 'acknowledged_by') ? `; acknowledged by ${inc.acknowledged_by}` : '') +
					(pick(inc, 'resolved_by') ? `; resolved by ${inc.resolved_by}` : '') +
					'.'
			),
			pick(inc, 'summary') ? h('div', { class: 'prose', text: String(inc.summary) }) : null,
			h(
				'dl',
				{ class: 'tree' },
				['resource', 'culprit', 'subsystems'].filter((k) => pick(inc, k)).map((k) => [h('dt', { text: k }), h('dd', {}, renderValue(inc[k], 1))])
			)
		);
		const st = stateOf(inc);
		replace(
			actions,
			st === 'open' ? button('ack', 'Acknowledge') : null,
			st !== 'resolved' && st !== 'closed' ? button('resolve', 'Resolve') : null,
			button('analyze', 'Analyze again')
		);
		for (const c of charts.splice(0)) c.destroy();
		const chartEls = await evidenceCharts(inc);
		replace(
			evidence,
			chartEls,
			pick(inc, 'parts') ? h('details', { open: true }, h('summary', { text: 'signals' }), renderValue(inc.parts, 1)) : null,
			renderValue(pick(inc, 'evidence'))
		);
		replace(timeline, timelineList(pick(inc, 'timeline', 'events', 'history')));
		replace(analysis, analysisBlock(inc));
		// Comments are their own list, or the timeline's comment entries.
		const tl = pick(inc, 'timeline') || [];
		renderComments(pick(inc, 'comments') || (Array.isArray(tl) ? tl.filter((t) => pick(t, 'kind') === 'comment') : []));
	}

	function renderComments(list) {
		const form = routes.comment && can('POST', routes.comment) ? commentForm() : null;
		replace(
			comments,
			list.length
				? h(
						'ul',
						{ class: 'comments' },
						list.map((c) => h('li', {}, h('span', { class: 'who', text: pick(c, 'who', 'user', 'author', 'by') || '' }), h('span', { class: 'when', text: fmtDateTime(pick(c, 'ts', 'timestamp', 'created_at')) }), h('p', { text: pick(c, 'detail', 'text', 'comment', 'body') || '' })))
				  )
				: message('info', 'No comments.'),
			form
		);
	}

	function commentForm() {
		const text = h('textarea', { id: 'comment-text', rows: 2, maxlength: 2000, placeholder: 'Add a comment' });
		const send = h('button', { type: 'submit', text: 'Comment' });
		const form = h('form', { class: 'comment-form' }, text, send);
		form.addEventListener('submit', (ev) => {
			ev.preventDefault();
			if (text.value.trim()) act(routes.comment, { text: text.value.trim() }, 'Comment');
		});
		return form;
	}

	load().catch((e) => {
		if (!abort.signal.aborted) replace(head, message('error', `Incident ${id}: ${e.message}`));
	});
	// An incident changes with rounds (its timeline grows): refresh now and then.
	let last = 0;
	const off = subscribe(() => {
		if (Date.now() - last < 15000) return;
		last = Date.now();
		load().catch(() => {});
	});
	return () => {
		off();
		for (const c of charts) c.destroy();
	};
}

export function mount(root, params) {
	const abort = new AbortController();
	const cleanup = params.length && detailRoute() ? detailView(root, abort, params[0]) : listView(root, abort);
	return () => {
		abort.abort();
		cleanup();
	};
}
