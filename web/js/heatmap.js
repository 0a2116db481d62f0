// heatmap.js - latency distributions over time from kpulse's log2
// histograms. uPlot draws the chart (time axis, log-scale latency axis,
// p50 / p99 lines, legend and cursor); the cells are painted in its
// drawAxes hook, one per round and log2 slot, from the slot bounds the
// API gives ([upper bound, cumulative count] per slot; slot i covers
// [2^i, 2^(i+1)) base units). A cell's colour is its count on a log scale
// against the busiest cell in view.

import { h, fmtSeconds } from './dom.js';
import { registry, SEVERITY_COLORS, xAxis, axisSize, legendToLatest, timeWindow } from './charts.js';

const uPlot = globalThis.uPlot;
const AXIS = '#8b949e';
const GRID = 'rgba(240,246,252,0.07)';
// Dark blue to pale yellow (YlGnBu, reversed), readable on the dark panel.
const STOPS = [
	[0.0, [37, 52, 148]],
	[0.35, [44, 127, 184]],
	[0.6, [65, 182, 196]],
	[0.8, [161, 218, 180]],
	[1.0, [255, 255, 204]],
];

function color(f) {
	for (let i = 1; i < STOPS.length; i++) {
		if (f <= STOPS[i][0]) {
			const [f0, c0] = STOPS[i - 1];
			const [f1, c1] = STOPS[i];
			const k = (f - f0) / (f1 - f0);
			const c = c0.map((v, j) => Math.round(v + (c1[j] - v) * k));
			return `rgb(${c[0]},${c[1]},${c[2]})`;
		}
	}
	return 'rgb(255,255,204)';
}

// Ticks at whole decades of the latency axis only (1 µs, 10 µs, ...).
function decades(u) {
	const out = [];
	for (let v = u.scales.y.min; v <= u.scales.y.max * 1.0001; v *= 10) out.push(v);
	return out;
}

// A heatmap chart. columns() returns [{t, dt, slots, scale}], oldest first.
// Returns {el, u, setLines(xs, p50, p99), redraw(), destroy(), cells}.
export function heatmap({ name, height = 220, columns, spans, windowS = 300 }) {
	const el = h('div', { class: 'chart heatmap', dataset: { chart: name, points: '0', cells: '0' } });
	const chart = { el, cells: 0, points: 0 };
	let yLo = 1e-6;
	let yHi = 1e-3;

	const drawCells = (u) => {
		const cols = columns();
		const { ctx } = u;
		const { left, top, width, height: hgt } = u.bbox;
		let max = 0;
		for (const c of cols) for (const n of c.slots) if (n > max) max = n;
		let cells = 0;
		ctx.save();
		ctx.beginPath();
		ctx.rect(left, top, width, hgt);
		ctx.clip();
		const lmax = Math.log1p(max);
		for (const c of cols) {
			const x1 = u.valToPos(c.t, 'x', true);
			const x0 = u.valToPos(c.t - c.dt, 'x', true);
			if (x1 < left || x0 > left + width) continue;
			for (let i = 0; i < c.slots.length; i++) {
				const n = c.slots[i];
				if (!n) continue;
				const lo = (i === 0 ? 1 : 2 ** i) * c.scale;
				const hi = 2 ** (i + 1) * c.scale;
				const y0 = u.valToPos(hi, 'y', true);
				const y1 = u.valToPos(lo, 'y', true);
				ctx.fillStyle = color(lmax > 0 ? Math.log1p(n) / lmax : 1);
				ctx.fillRect(x0, y0, Math.max(1, x1 - x0 + 0.5), Math.max(1, y1 - y0));
				cells++;
			}
		}
		// Anomaly spans over the cells, so both stay visible.
		for (const s of spans ? spans() : []) {
			const a = Math.max(left, u.valToPos(s.from, 'x', true));
			const b = Math.min(left + width, u.valToPos(s.to, 'x', true));
			if (b <= a - 2) continue;
			ctx.fillStyle = SEVERITY_COLORS[s.severity] || SEVERITY_COLORS.info;
			ctx.fillRect(a, top, Math.max(2, b - a), hgt);
		}
		ctx.restore();
		chart.cells = cells;
		el.dataset.cells = String(cells);
	};

	const fmt = (v) => (v === null || v === undefined ? '–' : fmtSeconds(v));
	const tick = (v) => (v === null || v === undefined ? '' : fmtSeconds(v));
	const u = new uPlot(
		{
			width: 600,
			height,
			series: [
				{ value: (u, v) => (v === null ? '–' : new Date(v * 1000).toLocaleTimeString()) },
				{ label: 'p50', stroke: '#e6edf3', width: 1.25, dash: [4, 3], points: { show: false }, value: (u, v) => fmt(v) },
				{ label: 'p99', stroke: '#ff7b72', width: 1.5, points: { show: false }, value: (u, v) => fmt(v) },
			],
			cursor: { drag: { x: false, y: false } },
			scales: {
				x: {
					time: true,
					// From the first column (the lines' history alone does not
					// widen the view), within the window.
					range: (u, min, max) => {
						const cols = columns();
						return timeWindow(windowS, cols.length ? cols[0].t - cols[0].dt : min, max);
					},
				},
				y: { distr: 3, log: 10, range: () => [yLo, yHi] },
			},
			axes: [xAxis(), { stroke: AXIS, grid: { stroke: GRID }, ticks: { stroke: GRID }, size: axisSize, splits: decades, values: (u, splits) => splits.map(tick) }],
			hooks: { drawAxes: [drawCells] },
		},
		[[], [], []],
		el
	);
	chart.u = u;

	// Latency range: the slots seen, widened to whole decades for the axis.
	const fitRange = (lines) => {
		let lo = Infinity;
		let hi = 0;
		for (const c of columns()) {
			c.slots.forEach((n, i) => {
				if (!n) return;
				lo = Math.min(lo, (i === 0 ? 1 : 2 ** i) * c.scale);
				hi = Math.max(hi, 2 ** (i + 1) * c.scale);
			});
		}
		for (const line of lines) for (const v of line) if (v > 0) {
			lo = Math.min(lo, v);
			hi = Math.max(hi, v);
		}
		if (!(hi > 0)) {
			lo = 1e-6;
			hi = 1e-3;
		}
		yLo = 10 ** Math.floor(Math.log10(lo));
		yHi = 10 ** Math.ceil(Math.log10(hi));
		if (yHi <= yLo) yHi = yLo * 10;
	};

	chart.setLines = (xs, p50, p99) => {
		fitRange([p50, p99]);
		const cols = columns();
		// The x range must cover the cells even where the lines have no point.
		let x = xs;
		if (cols.length && (!xs.length || cols[0].t - cols[0].dt < xs[0])) x = [cols[0].t - cols[0].dt, ...xs];
		const pad = x.length > xs.length ? [null] : [];
		u.setData([x, [...pad, ...p50], [...pad, ...p99]]);
		legendToLatest(u);
		let n = 0;
		for (const v of p50) if (v !== null) n++;
		for (const v of p99) if (v !== null) n++;
		chart.points = n;
		el.dataset.points = String(n);
	};
	chart.redraw = () => u.redraw(false, true);
	const ro = new ResizeObserver(() => {
		const w = Math.max(200, el.clientWidth);
		if (Math.abs(w - u.width) > 1) {
			u.setSize({ width: w, height });
			legendToLatest(u);
		}
	});
	ro.observe(el);
	chart.destroy = () => {
		ro.disconnect();
		u.destroy();
		if (registry.get(name) === chart) registry.delete(name);
	};
	registry.set(name, chart);
	return chart;
}

// The legend strip under a heatmap: what the colours mean.
export function heatLegend() {
	return h(
		'div',
		{ class: 'heat-legend' },
		h('span', { text: 'fewer' }),
		h('span', { class: 'heat-scale' }),
		h('span', { text: 'more observations per round (log scale)' })
	);
}
