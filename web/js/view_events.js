// view_events.js - the kernel's discrete events: the last hour from the
// store (GET /api/v1/events), then each round's new events from the stream
// on top, with a filter per type; and the event rate per type over the
// last 15 minutes (kpulse_events_total).

import { h, panel, replace, fmtTime, fmtBytes, fmtSeconds, fmtDuration, fmtNum, message } from './dom.js';
import { api, queryRange, window_ } from './api.js';
import { live, subscribe } from './live.js';
import { timeChart, joinSeries, palette } from './charts.js';

const MAX_ROWS = 300;
const WINDOW_S = 900;
// Shown first and named; other types follow in order of appearance.
const TYPES = ['oom_kill', 'slow_io', 'tcp_retransmit', 'exec', 'exit', 'fork', 'tcp_close'];
const TYPE_LABELS = { oom_kill: 'OOM kill', slow_io: 'slow I/O', tcp_retransmit: 'TCP retransmit', exec: 'exec', exit: 'exit', fork: 'fork', tcp_close: 'TCP close' };
const SEVERE = new Set(['oom_kill', 'slow_io', 'tcp_retransmit']);

// Stored events nest their fields; the stream's are flat. One shape: flat.
function normalize(e) {
	return e.fields && typeof e.fields === 'object' ? { ...e.fields, ...e, fields: undefined } : e;
}

const endpoint = (addr, port) => (String(addr).includes(':') ? `[${addr}]:${port}` : `${addr}:${port}`);

// What matters about an event, per type, as short text.
export function eventDetail(e) {
	switch (e.type) {
		case 'exec':
		case 'fork':
			return `parent ${e.ppid}`;
		case 'exit': {
			const how = e.signal ? `signal ${e.signal}` : `code ${e.exit_code}`;
			return `${how}, lived ${fmtDuration(e.lifetime_s)}`;
		}
		case 'oom_kill':
			return `memcg ${e.memcg || '?'} · rss ${fmtBytes((e.rss_pages || 0) * 4096)} · vm ${fmtBytes((e.total_vm_pages || 0) * 4096)}`;
		case 'slow_io':
			return `${e.device} ${e.op} ${fmtBytes(e.bytes)} in ${fmtSeconds(e.latency_s)}`;
		case 'tcp_retransmit':
			return `${endpoint(e.saddr, e.sport)} → ${endpoint(e.daddr, e.dport)} ${e.state || ''} (${e.segs || 1} seg)`;
		case 'tcp_close':
			return `${endpoint(e.saddr, e.sport)} → ${endpoint(e.daddr, e.dport)} · ${fmtBytes(e.bytes_sent)} out, ${fmtBytes(e.bytes_received)} in, ${fmtDuration(e.lifetime_s)}`;
		default: {
			const skip = new Set(['type', 'timestamp', 'pid', 'comm', 'id', 'fields']);
			return Object.entries(e)
				.filter(([k]) => !skip.has(k))
				.map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : v}`)
				.join(' ');
		}
	}
}

export function mount(root) {
	const abort = new AbortController();
	let events = []; // newest first
	const hidden = new Set(['fork']); // forks are many and say little alone
	const counts = new Map();
	const chips = h('div', { class: 'chips', role: 'group', 'aria-label': 'event types' });
	const table = h('div', { class: 'table-wrap events' });
	const chartBox = h('div', { class: 'chart-box' });
	let chart = null;

	replace(
		root,
		panel('Event rate', { name: 'event-rate', note: 'Events per second by type, last 15 minutes (kpulse_events_total).' }, chartBox),
		panel('Live events', { name: 'events', note: 'The last hour, newest first; new events arrive with each round.', tools: chips }, table)
	);

	const typesSeen = () => {
		const seen = new Set(events.map((e) => e.type));
		return [...TYPES.filter((t) => seen.has(t) || t !== 'fork'), ...[...seen].filter((t) => !TYPES.includes(t)).sort()];
	};

	function renderChips() {
		replace(
			chips,
			typesSeen().map((t) => {
				const b = h('button', {
					type: 'button',
					class: `chip ${hidden.has(t) ? 'off' : 'on'} ${SEVERE.has(t) ? 'severe' : ''}`,
					'aria-pressed': hidden.has(t) ? 'false' : 'true',
					dataset: { type: t },
					text: `${TYPE_LABELS[t] || t} ${counts.get(t) || 0}`,
				});
				b.addEventListener('click', () => {
					if (hidden.has(t)) hidden.delete(t);
					else hidden.add(t);
					render();
				});
				return b;
			})
		);
	}

	function render(fresh = new Set()) {
		counts.clear();
		for (const e of events) counts.set(e.type, (counts.get(e.type) || 0) + 1);
		renderChips();
		const shown = events.filter((e) => !hidden.has(e.type)).slice(0, MAX_ROWS);
		replace(
			table,
			shown.length
				? h(
						'table',
						{ class: 'data', id: 'event-table' },
						h('thead', {}, h('tr', {}, ['time', 'type', 'pid', 'command', 'details'].map((c) => h('th', { text: c })))),
						h(
							'tbody',
							{},
							shown.map((e) =>
								h(
									'tr',
									{ class: `${SEVERE.has(e.type) ? 'severe' : ''} ${fresh.has(e) ? 'fresh' : ''}`, dataset: { type: e.type } },
									h('td', { class: 'num', text: fmtTime(e.timestamp) }),
									h('td', {}, h('span', { class: `badge type-${e.type}`, text: TYPE_LABELS[e.type] || e.type })),
									h('td', { class: 'num', text: e.pid }),
									h('td', { class: 'comm', text: e.comm }),
									h('td', { class: 'detail', text: eventDetail(e) })
								)
							)
						)
				  )
				: message('info', events.length ? 'No events of the selected types.' : 'No events in the last hour yet.')
		);
	}

	async function loadStored() {
		const now = Date.now() / 1000;
		const r = await api('/api/v1/events', { query: { from: (now - 3600).toFixed(0), order: 'desc', limit: 1000 }, signal: abort.signal });
		events = (r.events || []).map(normalize);
	}

	async function loadChart() {
		const r = await queryRange('kpulse_events_total', { ...window_(WINDOW_S, 10), agg: 'rate', signal: abort.signal });
		const series = (r.series || []).sort((a, b) => TYPES.indexOf(a.labels.type) - TYPES.indexOf(b.labels.type));
		if (chart) chart.destroy();
		chart = timeChart({
			name: 'event-rate',
			windowS: WINDOW_S,
			yFmt: (v) => `${fmtNum(v)}/s`,
			yMin: 0,
			series: series.map((s, i) => ({ label: TYPE_LABELS[s.labels.type] || s.labels.type, color: palette[i % palette.length] })),
		});
		replace(chartBox, series.length ? chart.el : message('info', 'No events stored yet.'));
		const j = joinSeries(series);
		chart.setData(j.xs, j.ys);
	}

	function onRound(doc) {
		const fresh = (doc.events || []).map(normalize).sort((a, b) => b.timestamp - a.timestamp);
		if (!fresh.length) return;
		// The store may already hold this round's events: skip those.
		const last = events.length ? events[0].timestamp : 0;
		const key = (e) => `${e.type}|${e.timestamp}|${e.pid}`;
		const known = new Set(events.filter((e) => e.timestamp >= last).map(key));
		const add = fresh.filter((e) => e.timestamp >= last && !known.has(key(e)));
		events = add.concat(events).slice(0, 2000);
		render(new Set(add));
	}

	let off = null;
	loadStored()
		.catch((e) => {
			if (!abort.signal.aborted) root.prepend(message('error', `Stored events could not be loaded: ${e.message}`));
			events = live.events.slice();
		})
		.finally(() => {
			if (abort.signal.aborted) return;
			render();
			off = subscribe(onRound);
		});
	const chartLoad = () =>
		loadChart().catch((e) => {
			if (!abort.signal.aborted) replace(chartBox, message('error', `Event rates could not be loaded: ${e.message}`));
		});
	chartLoad();
	const timer = setInterval(chartLoad, 15000);

	return () => {
		abort.abort();
		if (off) off();
		clearInterval(timer);
		if (chart) chart.destroy();
	};
}
