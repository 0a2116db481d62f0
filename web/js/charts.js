// charts.js - every time chart of the dashboard is a uPlot instance made
// here: dark-theme axes, formatted legends, stacking through uPlot's bands,
// anomaly spans drawn through its hooks, resizing with the page. Each chart
// also says how many points it draws (data-points on its element, and
// kpulse.charts for the browser tests), so an empty chart is visible to a
// test without reading pixels.

import { h } from './dom.js';

const uPlot = globalThis.uPlot;

export const palette = [
	'#4e9cf5', '#f5a623', '#3fb950', '#e5534b', '#b083f0', '#39c5cf', '#d29922', '#f778ba',
	'#8b949e', '#7ee787', '#ff7b72', '#a5d6ff',
];

const AXIS = '#8b949e';
const GRID = 'rgba(240,246,252,0.07)';
export const SEVERITY_COLORS = {
	info: 'rgba(88,166,255,0.16)',
	warning: 'rgba(210,153,34,0.22)',
	critical: 'rgba(248,81,73,0.26)',
};

export const SEVERITY_BARS = { info: '#58a6ff', warning: '#d29922', critical: '#f85149' };

// The registry the browser tests read: name -> {u, points()}.
globalThis.kpulse = globalThis.kpulse || { charts: new Map() };
export const registry = globalThis.kpulse.charts;

export function alpha(hex, a) {
	const n = parseInt(hex.slice(1), 16);
	return `rgba(${(n >> 16) & 255},${(n >> 8) & 255},${n & 255},${a})`;
}

// Draws [{from, to, severity}] spans behind the series, at least a few
// pixels wide with a stronger bar on top so a short one is still seen;
// {at, label} markers are dashed vertical lines.
export function spansPlugin(getSpans) {
	return {
		hooks: {
			drawClear: [
				(u) => {
					const spans = getSpans ? getSpans() : [];
					if (!spans || !spans.length) return;
					const { ctx } = u;
					const { left, top, width, height } = u.bbox;
					ctx.save();
					for (const s of spans) {
						if (s.at !== undefined) {
							const x = u.valToPos(s.at, 'x', true);
							if (x < left || x > left + width) continue;
							ctx.strokeStyle = 'rgba(230,237,243,0.45)';
							ctx.setLineDash([4, 4]);
							ctx.beginPath();
							ctx.moveTo(x, top);
							ctx.lineTo(x, top + height);
							ctx.stroke();
							ctx.setLineDash([]);
							if (s.label) {
								ctx.fillStyle = 'rgba(230,237,243,0.7)';
								ctx.font = `${Math.round(11 * devicePixelRatio)}px sans-serif`;
								ctx.fillText(s.label, x + 4, top + 12 * devicePixelRatio);
							}
							continue;
						}
						let x0 = Math.max(left, u.valToPos(s.from, 'x', true));
						let x1 = Math.min(left + width, u.valToPos(s.to, 'x', true));
						if (x1 < left || x0 > left + width) continue;
						if (x1 - x0 < 6) {
							const mid = (x0 + x1) / 2;
							x0 = mid - 3;
							x1 = mid + 3;
						}
						ctx.fillStyle = SEVERITY_COLORS[s.severity] || SEVERITY_COLORS.info;
						ctx.fillRect(x0, top, x1 - x0, height);
						ctx.fillStyle = SEVERITY_BARS[s.severity] || SEVERITY_BARS.info;
						ctx.fillRect(x0, top, x1 - x0, 3);
					}
					ctx.restore();
				},
			],
		},
	};
}

// Time labels: seconds only when the ticks are less than a minute apart.
const pad2 = (n) => String(n).padStart(2, '0');
export function timeAxisValues(u, splits) {
	const step = splits.length > 1 ? splits[1] - splits[0] : 60;
	return splits.map((ts) => {
		const d = new Date(ts * 1000);
		const hm = `${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
		return step < 60 || ts % 60 ? `${hm}:${pad2(d.getSeconds())}` : hm;
	});
}

// Axis width from its longest label, so no label is cut.
export function axisSize(u, values) {
	const longest = Math.max(0, ...(values || []).map((v) => String(v).length));
	return Math.max(44, Math.ceil(longest * 7.5) + 26);
}

// Tick steps for byte values: 1, 2, 5 x powers of 1024.
export const BYTE_INCRS = [];
for (const p of [1, 1024, 1024 ** 2, 1024 ** 3, 1024 ** 4, 1024 ** 5])
	for (const m of [1, 2, 5, 10, 20, 50, 100, 200, 500]) BYTE_INCRS.push(m * p);

export const xAxis = () => ({ stroke: AXIS, grid: { stroke: GRID }, ticks: { stroke: GRID }, values: timeAxisValues, space: 80 });

// The time range of a chart: the last windowS seconds up to the newest
// point, or less while there is less data (a young daemon, a fresh login),
// but never under MIN_SPAN_S, so a chart is never mostly empty space.
const MIN_SPAN_S = 60;
export function timeWindow(windowS, min, max) {
	const end = Number.isFinite(max) ? max : Date.now() / 1000;
	const have = Number.isFinite(min) ? end - min : 0;
	return [end - Math.min(windowS, Math.max(have, MIN_SPAN_S)), end];
}

// The legend shows the latest values while the cursor is off the chart.
export function legendToLatest(u) {
	if (u.cursor.left >= 0) return;
	for (let i = (u.data[0] || []).length - 1; i >= 0; i--) {
		if (u.data.some((col, k) => k > 0 && col[i] !== null && col[i] !== undefined)) {
			u.setLegend({ idx: i });
			return;
		}
	}
}

function countPoints(data) {
	let n = 0;
	for (let i = 1; i < data.length; i++) for (const v of data[i] || []) if (v !== null && v !== undefined) n++;
	return n;
}

// A uPlot time chart in a new element.
//   series: [{label, color, fmt, dash, fill}]
//   opts: {name, height, yFmt, yIncrs, yMin, yMax, zero, stacked, bands, windowS,
//          spans: () => [...], log}
// Returns {el, u, setData(xs, ys), destroy()}.
export function timeChart(opts) {
	const el = h('div', { class: 'chart', dataset: { chart: opts.name, points: '0' } });
	const yFmt = opts.yFmt || ((v) => String(v));
	let raw = null; // unstacked values for the legend when stacked
	const series = [
		{ value: (u, v) => (v === null ? '–' : new Date(v * 1000).toLocaleTimeString()) },
		...opts.series.map((s, i) => ({
			label: s.label,
			stroke: s.color || palette[i % palette.length],
			width: s.width || 1.5,
			dash: s.dash,
			fill: s.fill === true ? alpha(s.color || palette[i % palette.length], 0.25) : s.fill,
			points: { show: false },
			spanGaps: false,
			value: (u, v, si, idx) => {
				const x = raw && idx !== null && idx !== undefined ? raw[si - 1][idx] : v;
				return x === null || x === undefined ? '–' : (s.fmt || yFmt)(x);
			},
		})),
	];
	// opts.bands: [{series: [upper, lower] (indices of opts.series), fill}]
	const bands = (opts.bands || []).map((b) => ({ series: [b.series[0] + 1, b.series[1] + 1], fill: b.fill }));
	if (opts.stacked) {
		for (let i = 2; i < series.length; i++) {
			bands.push({ series: [i, i - 1], fill: alpha(opts.series[i - 1].color || palette[(i - 1) % palette.length], 0.35) });
		}
		if (series[1]) series[1].fill = alpha(opts.series[0].color || palette[0], 0.35);
	}
	const u = new uPlot(
		{
			width: 600,
			height: opts.height || 200,
			series,
			bands,
			cursor: { drag: { x: false, y: false } },
			legend: { live: true },
			scales: {
				x: {
					time: true,
					// A fixed window: charts of one page share their time axis.
					range: opts.windowS ? (u, min, max) => timeWindow(opts.windowS, min, max) : undefined,
				},
				y: {
					distr: opts.log ? 3 : 1,
					log: opts.log || undefined,
					range: (u, min, max) => {
						// From zero unless told otherwise (opts.zero false: the data's own range).
						let lo = opts.yMin !== undefined ? opts.yMin : opts.zero === false ? min - (max - min) * 0.05 : Math.min(0, min);
						let hi = opts.yMax !== undefined ? Math.max(opts.yMax, max || 0) : max;
						if (!Number.isFinite(lo)) lo = 0;
						if (!Number.isFinite(hi) || hi <= lo) hi = lo + 1;
						return [lo, hi + (hi - lo) * 0.05];
					},
				},
			},
			axes: [
				xAxis(),
				{
					stroke: AXIS,
					grid: { stroke: GRID },
					ticks: { stroke: GRID },
					size: axisSize,
					incrs: opts.yIncrs,
					values: (u, splits) => splits.map((v) => (v === null ? '' : yFmt(v))),
				},
			],
			plugins: opts.spans ? [spansPlugin(opts.spans)] : [],
		},
		[[], ...opts.series.map(() => [])],
		el
	);
	const chart = {
		el,
		u,
		points: 0,
		setData(xs, ys) {
			let data = ys;
			if (opts.stacked) {
				raw = ys;
				data = [];
				let acc = null;
				for (const col of ys) {
					acc = col.map((v, i) => (v === null ? (acc ? acc[i] : null) : (acc && acc[i] !== null ? acc[i] : 0) + v));
					data.push(acc);
				}
			}
			u.setData([xs, ...data]);
			legendToLatest(u);
			chart.points = countPoints([xs, ...ys]);
			el.dataset.points = String(chart.points);
		},
		redraw() {
			u.redraw(false, false);
		},
		destroy() {
			ro.disconnect();
			u.destroy();
			if (registry.get(opts.name) === chart) registry.delete(opts.name);
		},
	};
	const ro = new ResizeObserver(() => {
		const w = Math.max(200, el.clientWidth);
		if (Math.abs(w - u.width) > 1) {
			u.setSize({ width: w, height: opts.height || 200 });
			legendToLatest(u);
		}
	});
	ro.observe(el);
	if (opts.name) registry.set(opts.name, chart);
	return chart;
}

// Series of /query_range joined on one time axis.
//   list: [{points: [[ts, v], ...]}] -> {xs, ys: [[v|null per x] per series]}
export function joinSeries(list) {
	const set = new Set();
	for (const s of list) for (const [t] of s.points || []) set.add(t);
	const xs = [...set].sort((a, b) => a - b);
	const index = new Map(xs.map((t, i) => [t, i]));
	const ys = list.map((s) => {
		const col = new Array(xs.length).fill(null);
		for (const [t, v] of s.points || []) col[index.get(t)] = v;
		return col;
	});
	return { xs, ys };
}

// A rolling window of x and per-series y values: history first, then one
// point per live round. Keeps at most windowS seconds.
export class Rolling {
	constructor(nseries, windowS) {
		this.xs = [];
		this.ys = Array.from({ length: nseries }, () => []);
		this.windowS = windowS;
	}

	load(xs, ys) {
		this.xs = xs.slice();
		this.ys = ys.map((c) => c.slice());
	}

	push(t, values) {
		if (this.xs.length && t <= this.xs[this.xs.length - 1]) return;
		this.xs.push(t);
		values.forEach((v, i) => this.ys[i].push(v === undefined ? null : v));
		const cut = t - this.windowS;
		let k = 0;
		while (k < this.xs.length && this.xs[k] < cut) k++;
		if (k) {
			this.xs.splice(0, k);
			for (const c of this.ys) c.splice(0, k);
		}
	}
}
