// dom.js - building elements without HTML strings (nothing from the API is
// ever parsed as markup), and the number, size, rate and time formats every
// page shares.

// h('div', {class: 'x', onclick: fn, dataset: {k: v}}, child, 'text', [more])
export function h(tag, attrs, ...children) {
	const el = document.createElement(tag);
	for (const [k, v] of Object.entries(attrs || {})) {
		if (v === undefined || v === null || v === false) continue;
		if (k === 'class') el.className = v;
		else if (k === 'text') el.textContent = v;
		else if (k === 'dataset') Object.assign(el.dataset, v);
		else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
		else if (k in el && typeof v !== 'string') el[k] = v;
		else el.setAttribute(k, v === true ? '' : v);
	}
	append(el, children);
	return el;
}

function append(el, children) {
	for (const c of children) {
		if (c === undefined || c === null || c === false) continue;
		if (Array.isArray(c)) append(el, c);
		else el.append(c instanceof Node ? c : String(c));
	}
}

export function clear(el) {
	while (el.firstChild) el.firstChild.remove();
	return el;
}

export function replace(el, ...children) {
	clear(el);
	append(el, children);
	return el;
}

const SI = ['', 'k', 'M', 'G', 'T', 'P'];
const IEC = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

export function fmtNum(v, digits = 3) {
	if (v === null || v === undefined || !Number.isFinite(v)) return '–';
	const a = Math.abs(v);
	if (a !== 0 && a < 1e-3) return v.toExponential(1);
	let i = 0;
	let x = v;
	while (Math.abs(x) >= 1000 && i < SI.length - 1) {
		x /= 1000;
		i++;
	}
	return trim(x, digits) + SI[i];
}

export function fmtBytes(v) {
	if (v === null || v === undefined || !Number.isFinite(v)) return '–';
	let i = 0;
	let x = v;
	while (Math.abs(x) >= 1024 && i < IEC.length - 1) {
		x /= 1024;
		i++;
	}
	return `${trim(x, 3)} ${IEC[i]}`;
}

export const fmtBytesRate = (v) => (Number.isFinite(v) ? `${fmtBytes(v)}/s` : '–');

export function fmtPct(v, digits = 1) {
	return Number.isFinite(v) ? `${v.toFixed(digits)}%` : '–';
}

// Seconds as the unit a person reads: 850 ns, 1.2 ms, 3.4 s.
export function fmtSeconds(v) {
	if (v === null || v === undefined || !Number.isFinite(v)) return '–';
	const a = Math.abs(v);
	if (a === 0) return '0 s';
	if (a < 1e-6) return `${trim(v * 1e9, 3)} ns`;
	if (a < 1e-3) return `${trim(v * 1e6, 3)} µs`;
	if (a < 1) return `${trim(v * 1e3, 3)} ms`;
	return `${trim(v, 3)} s`;
}

// A span of time for ETAs and uptimes: 45 s, 12 min, 3 h 20 min, 2 d 4 h.
export function fmtDuration(s) {
	if (s === null || s === undefined || !Number.isFinite(s)) return '–';
	const neg = s < 0;
	s = Math.abs(s);
	let out;
	if (s < 90) out = `${Math.round(s)} s`;
	else if (s < 5400) out = `${Math.round(s / 60)} min`;
	else if (s < 172800) out = `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
	else out = `${Math.floor(s / 86400)} d ${Math.round((s % 86400) / 3600)} h`;
	return neg ? `-${out}` : out;
}

const pad = (n) => String(n).padStart(2, '0');

export function fmtTime(ts) {
	if (!Number.isFinite(ts)) return '–';
	const d = new Date(ts * 1000);
	return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function fmtDateTime(ts) {
	if (!Number.isFinite(ts)) return '–';
	const d = new Date(ts * 1000);
	return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${fmtTime(ts)}`;
}

function trim(x, digits) {
	const s = Math.abs(x) >= 100 ? x.toFixed(0) : x.toPrecision(digits);
	return s.includes('.') && !s.includes('e') ? s.replace(/\.?0+$/, '') : s;
}

// A formatter for a metric's values from its name's unit suffix; stat is
// how the value was taken (rate: per second; p99: a histogram quantile).
export function unitFormat(name, stat) {
	const rate = stat === 'rate' || stat === 'per_s';
	if (/_bytes(_total)?$/.test(name)) return rate ? fmtBytesRate : fmtBytes;
	if (/_seconds(_total)?$/.test(name)) return rate ? (v) => fmtPct(v * 100) : fmtSeconds;
	if (/_ratio$/.test(name)) return (v) => fmtPct(v * 100);
	return rate ? (v) => `${fmtNum(v)}/s` : (v) => fmtNum(v);
}

// {k: "v"} as k="v",... (what the API's selectors and the legends show).
export function labelText(labels, skip = []) {
	return Object.entries(labels || {})
		.filter(([k]) => !skip.includes(k))
		.map(([k, v]) => `${k}=${v}`)
		.join(', ');
}

// A selector for /query_range: NAME{k="v",...} with \ and " escaped.
export function selector(name, labels) {
	const parts = Object.entries(labels || {}).map(
		([k, v]) => `${k}="${String(v).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`
	);
	return parts.length ? `${name}{${parts.join(',')}}` : name;
}

// A panel: a titled box with an optional note and tools on the right.
export function panel(title, opts = {}, ...body) {
	return h(
		'section',
		{ class: `panel ${opts.class || ''}`, dataset: opts.name ? { panel: opts.name } : undefined },
		h('header', { class: 'panel-head' }, h('h2', { text: title }), opts.tools || null),
		opts.note ? h('p', { class: 'note', text: opts.note }) : null,
		...body
	);
}

export function message(kind, text) {
	return h('p', { class: `msg msg-${kind}`, role: kind === 'error' ? 'alert' : 'status', text });
}

// Any JSON value as nested lists (objects as key: value rows), for API
// fields this dashboard has no dedicated view of. Depth and length are
// bounded so a large document stays readable.
export function renderValue(v, depth = 0) {
	if (v === null || v === undefined) return h('span', { class: 'muted', text: '–' });
	if (typeof v !== 'object') return h('span', { text: String(v) });
	if (depth >= 4) return h('code', { text: JSON.stringify(v).slice(0, 200) });
	if (Array.isArray(v)) {
		if (!v.length) return h('span', { class: 'muted', text: 'none' });
		return h('ol', { class: 'tree' }, v.slice(0, 50).map((x) => h('li', {}, renderValue(x, depth + 1))), v.length > 50 ? h('li', { class: 'muted', text: `… ${v.length - 50} more` }) : null);
	}
	const entries = Object.entries(v);
	if (!entries.length) return h('span', { class: 'muted', text: '{}' });
	return h('dl', { class: 'tree' }, entries.slice(0, 60).map(([k, x]) => [h('dt', { text: k }), h('dd', {}, renderValue(x, depth + 1))]));
}

// The first of these fields that the object has.
export function pick(obj, ...names) {
	for (const n of names) if (obj && obj[n] !== undefined && obj[n] !== null) return obj[n];
	return undefined;
}
