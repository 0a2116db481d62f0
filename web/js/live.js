// live.js - the live feed: GET /api/v1/stream read with fetch() and a
// ReadableStream, so the bearer token goes in the Authorization header
// (EventSource cannot set headers, and a token in a URL would end up in
// logs and history). One `round` event per collection round carries the
// /api/v1/live document. Pages subscribe; this module keeps what must
// outlive a page: the last two rounds, recent events and the histogram
// columns the heatmaps draw (the store keeps no per-step buckets, so the
// heatmaps fill from the stream).

import { session, endSession } from './api.js';

const MAX_COLUMNS = 1200; // histogram columns per heatmap
const MAX_EVENTS = 500;
const RECENT_ROUNDS = 6; // rates of top-K rows look back this far

export const live = {
	state: 'idle', // idle, connecting, live, retrying
	latest: null,
	previous: null,
	rounds: 0,
	events: [], // newest first, flat: {type, timestamp, pid, comm, ...fields}
	hists: new Map(), // series key -> [{t, dt, slots: [count per slot], scale}]
	procCpu: [], // [{t, cpu: Map("comm (pid)" -> share of one CPU)}], oldest first
	recent: [], // the last RECENT_ROUNDS rounds, oldest first
};

const subscribers = new Set();
const stateSubscribers = new Set();
let controller = null;
let retryTimer = null;
let backoff = 1000;

export function subscribe(fn) {
	subscribers.add(fn);
	return () => subscribers.delete(fn);
}

export function onState(fn) {
	stateSubscribers.add(fn);
	fn(live.state);
	return () => stateSubscribers.delete(fn);
}

function setState(s) {
	live.state = s;
	for (const fn of stateSubscribers) fn(s);
}

export function seriesKey(name, labels) {
	const keys = Object.keys(labels || {}).sort();
	return keys.length ? `${name}{${keys.map((k) => `${k}=${labels[k]}`).join(',')}}` : name;
}

// Index of a round's metrics by series key (built once per round).
function indexRound(doc) {
	const byKey = new Map();
	const byName = new Map();
	for (const m of doc.metrics || []) {
		byKey.set(seriesKey(m.name, m.labels), m);
		let list = byName.get(m.name);
		if (!list) byName.set(m.name, (list = []));
		list.push(m);
	}
	doc.byKey = byKey;
	doc.byName = byName;
	return doc;
}

// Every series of a name in a round.
export function seriesOf(doc, name) {
	return (doc && doc.byName && doc.byName.get(name)) || [];
}

export function valueOf(doc, name, labels) {
	const m = doc && doc.byKey ? doc.byKey.get(seriesKey(name, labels)) : null;
	return m && m.value !== undefined ? m.value : null;
}

// The sum over all series of a name (optionally those matching a filter).
export function sumOf(doc, name, filter) {
	let s = null;
	for (const m of seriesOf(doc, name)) if (!filter || filter(m.labels || {})) s = (s || 0) + (m.value || 0);
	return s;
}

// Per-second increase of a counter between the previous and latest round.
export function rateOf(name, labels) {
	const cur = valueOf(live.latest, name, labels);
	const prev = valueOf(live.previous, name, labels);
	const dt = live.latest && live.previous ? live.latest.timestamp - live.previous.timestamp : 0;
	if (cur === null || prev === null || !(dt > 0)) return null;
	return cur >= prev ? (cur - prev) / dt : null;
}

// The same for the sum over a name's series (filter on labels).
export function sumRate(name, filter) {
	const dt = live.latest && live.previous ? live.latest.timestamp - live.previous.timestamp : 0;
	if (!(dt > 0)) return null;
	let total = null;
	for (const m of seriesOf(live.latest, name)) {
		if (filter && !filter(m.labels || {})) continue;
		const prev = valueOf(live.previous, m.name, m.labels);
		if (prev === null || m.value < prev) continue;
		total = (total || 0) + (m.value - prev) / dt;
	}
	return total;
}

// Per-second increase of a counter series of the latest round against the
// oldest recent round that has it: a process that enters and leaves the
// top K still gets a rate when it was there a few rounds ago.
export function recentRate(m) {
	const key = seriesKey(m.name, m.labels);
	const cur = live.latest;
	for (const doc of live.recent) {
		if (doc === cur) break;
		const p = doc.byKey.get(key);
		if (p && m.value >= p.value && cur.timestamp > doc.timestamp) return (m.value - p.value) / (cur.timestamp - doc.timestamp);
	}
	return null;
}

// Slot counts of a histogram in a round: cumulative buckets back to slots.
function slotsOf(m) {
	const out = [];
	let prev = 0;
	for (const [, cum] of m.buckets || []) {
		out.push(cum - prev);
		prev = cum;
	}
	return out;
}

// Upper bound of slot i of a histogram whose buckets are known.
export function slotUpper(scale, i) {
	return 2 ** (i + 1) * scale;
}

// The quantile q of slot counts as registry/hist.c computes it (values
// spread evenly inside a slot), in the histogram's unit.
export function slotQuantile(slots, scale, q) {
	let total = 0;
	for (const c of slots) total += c;
	if (!(total > 0)) return null;
	let rank = Math.ceil(q * total - 1e-9);
	rank = Math.min(Math.max(rank, 1), total);
	let below = 0;
	for (let i = 0; i < slots.length; i++) {
		if (below + slots[i] >= rank) {
			const lo = i === 0 ? 0 : 2 ** i;
			const hi = 2 ** (i + 1);
			return (lo + ((hi - lo) * (rank - below)) / slots[i]) * scale;
		}
		below += slots[i];
	}
	return null;
}

function recordHistograms(prev, cur) {
	const dt = cur.timestamp - prev.timestamp;
	if (!(dt > 0)) return;
	for (const m of cur.metrics) {
		if (m.type !== 'histogram' || !m.buckets || !m.buckets.length) continue;
		const key = seriesKey(m.name, m.labels);
		const p = prev.byKey.get(key);
		const now = slotsOf(m);
		const before = p ? slotsOf(p) : [];
		const delta = now.map((c, i) => Math.max(0, c - (before[i] || 0)));
		// A counter reset (restart) shows as fewer observations: skip it.
		if (p && m.count < p.count) continue;
		// The unit of slot 0's upper bound (2 base units) tells the scale.
		const scale = m.buckets[0][0] / 2;
		let col = live.hists.get(key);
		if (!col) live.hists.set(key, (col = []));
		col.push({ t: cur.timestamp, dt, slots: p ? delta : delta.map(() => 0), scale, labels: m.labels });
		if (col.length > MAX_COLUMNS) col.splice(0, col.length - MAX_COLUMNS);
	}
}

// "comm (pid)" for per-pid series, "comm (cgroup)" for the default
// series per name and cgroup.
export function processLabel(l) {
	if (l.pid !== undefined) return `${l.comm} (${l.pid})`;
	return l.cgroup && l.cgroup !== '/' ? `${l.comm} (${l.cgroup})` : l.comm;
}

// CPU of each top process between two rounds (the store may hold too many
// short-lived processes for one query, so the chart also keeps its own).
function recordProcesses(prev, cur) {
	const dt = cur.timestamp - prev.timestamp;
	if (!(dt > 0)) return;
	const cpu = new Map();
	for (const m of seriesOf(cur, 'kpulse_sched_process_cpu_seconds_total')) {
		const p = prev.byKey.get(seriesKey(m.name, m.labels));
		if (p && m.value >= p.value) cpu.set(processLabel(m.labels), (m.value - p.value) / dt);
	}
	live.procCpu.push({ t: cur.timestamp, cpu });
	if (live.procCpu.length > MAX_COLUMNS) live.procCpu.splice(0, live.procCpu.length - MAX_COLUMNS);
}

function onRound(doc) {
	indexRound(doc);
	live.previous = live.latest;
	live.latest = doc;
	live.rounds++;
	live.recent.push(doc);
	if (live.recent.length > RECENT_ROUNDS) live.recent.shift();
	if (live.previous) {
		recordHistograms(live.previous, doc);
		recordProcesses(live.previous, doc);
	}
	const evs = (doc.events || []).slice().sort((a, b) => b.timestamp - a.timestamp);
	if (evs.length) {
		live.events = evs.concat(live.events).slice(0, MAX_EVENTS);
	}
	for (const fn of subscribers) {
		try {
			fn(doc);
		} catch (e) {
			console.error('live subscriber failed', e);
		}
	}
}

// Splits the text/event-stream body into events; calls onEvent(type, data).
async function readEvents(body, onEvent) {
	const reader = body.getReader();
	const decoder = new TextDecoder();
	let buf = '';
	for (;;) {
		const { value, done } = await reader.read();
		if (done) return;
		buf += decoder.decode(value, { stream: true });
		let end;
		while ((end = buf.indexOf('\n\n')) >= 0) {
			const block = buf.slice(0, end);
			buf = buf.slice(end + 2);
			let type = 'message';
			const data = [];
			for (const line of block.split('\n')) {
				if (line.startsWith(':')) continue;
				const colon = line.indexOf(':');
				const field = colon < 0 ? line : line.slice(0, colon);
				let val = colon < 0 ? '' : line.slice(colon + 1);
				if (val.startsWith(' ')) val = val.slice(1);
				if (field === 'event') type = val;
				else if (field === 'data') data.push(val);
			}
			if (data.length) onEvent(type, data.join('\n'));
		}
	}
}

async function connect() {
	clearTimeout(retryTimer);
	if (!session.token) return;
	controller = new AbortController();
	const mine = controller;
	setState('connecting');
	try {
		const r = await fetch('/api/v1/stream', {
			headers: { Authorization: `Bearer ${session.token}`, Accept: 'text/event-stream' },
			signal: mine.signal,
			credentials: 'omit',
			cache: 'no-store',
		});
		if (r.status === 401) {
			endSession('Your session ended; log in again.');
			return;
		}
		if (!r.ok || !r.body) throw new Error(`stream: HTTP ${r.status}`);
		setState('live');
		backoff = 1000;
		await readEvents(r.body, (type, data) => {
			if (type === 'round') onRound(JSON.parse(data));
		});
	} catch (e) {
		if (mine.signal.aborted) return;
	}
	if (mine !== controller || mine.signal.aborted || !session.token) return;
	// The daemon ended the stream (restart, or this tab fell behind): retry.
	setState('retrying');
	retryTimer = setTimeout(connect, backoff);
	backoff = Math.min(backoff * 2, 10000);
}

export function start() {
	stop();
	connect();
}

export function stop() {
	clearTimeout(retryTimer);
	if (controller) controller.abort();
	controller = null;
	live.latest = live.previous = null;
	live.rounds = 0;
	live.events = [];
	live.hists.clear();
	live.procCpu = [];
	live.recent = [];
	setState('idle');
}

// Resolves with the next round (or the latest, when there is one).
export function nextRound() {
	if (live.latest) return Promise.resolve(live.latest);
	return new Promise((resolve) => {
		const off = subscribe((doc) => {
			off();
			resolve(doc);
		});
	});
}
