// view_forecasts.js - where things are heading: the daemon's time-to-
// threshold predictions (GET /api/v1/predictions: filesystems full, memory
// or swap exhausted, configured limits) and a forecast of a chosen series
// (GET /api/v1/forecast) drawn after its history, with its 80% and 95%
// prediction intervals as bands.

import { h, panel, replace, fmtBytes, fmtNum, fmtDuration, fmtDateTime, labelText, message, selector } from './dom.js';
import { api, has, queryRange } from './api.js';
import { nextRound, seriesOf } from './live.js';
import { timeChart, joinSeries, alpha, palette, BYTE_INCRS } from './charts.js';

const HORIZONS = [
	['15m', 900],
	['1h', 3600],
	['6h', 21600],
];
const KIND_LABELS = { filesystem_full: 'filesystem full', memory_exhausted: 'memory exhausted', swap_exhausted: 'swap exhausted', limit: 'limit' };

// The series a person is likely to ask about, each matching one series.
function choices(doc) {
	const out = [
		{ label: 'Available memory', sel: 'kpulse_mem_available_bytes', fmt: fmtBytes, bytes: true },
		{ label: 'Load (1 min)', sel: 'kpulse_load1', fmt: (v) => fmtNum(v) },
		{ label: 'Runnable tasks', sel: 'kpulse_procs_running', fmt: (v) => fmtNum(v) },
	];
	for (const m of seriesOf(doc, 'kpulse_filesystem_avail_bytes'))
		out.push({ label: `Free space on ${m.labels.mountpoint}`, sel: selector(m.name, m.labels), fmt: fmtBytes, bytes: true });
	for (const m of seriesOf(doc, 'kpulse_net_rx_bytes_total').filter((x) => x.labels.interface !== 'lo'))
		out.push({ label: `Received on ${m.labels.interface} (bytes/s)`, sel: selector(m.name, m.labels), fmt: (v) => `${fmtBytes(v)}/s`, bytes: true });
	return out;
}

export function mount(root) {
	const abort = new AbortController();
	const predBox = h('div', { class: 'table-wrap' });
	const fcBox = h('div', { class: 'chart-box' });
	const fcNote = h('p', { class: 'note' });
	const seriesSelect = h('select', { class: 'inline-select', id: 'forecast-series', 'aria-label': 'series' });
	const horizonSelect = h(
		'select',
		{ class: 'inline-select', id: 'forecast-horizon', 'aria-label': 'horizon' },
		HORIZONS.map(([l, s]) => h('option', { value: String(s), text: `next ${l}`, selected: l === '1h' }))
	);
	let chart = null;
	let options = [];
	const panels = [];
	if (has('GET', '/api/v1/predictions'))
		panels.push(panel('Time to threshold', { name: 'predictions', note: 'Trends heading for a limit, with the predicted time and its 95% range.' }, predBox));
	if (has('GET', '/api/v1/forecast'))
		panels.push(panel('Forecast', { name: 'forecast', tools: h('span', { class: 'tools' }, seriesSelect, horizonSelect) }, fcNote, fcBox));
	replace(root, ...panels);

	async function loadPredictions() {
		const r = await api('/api/v1/predictions', { signal: abort.signal });
		const list = r.predictions || [];
		if (!list.length) {
			replace(predBox, message('info', 'No trend is heading for a threshold.'));
			return;
		}
		replace(
			predBox,
			h('p', { class: 'note' }, `${r.alerts || 0} alert-worthy (whole slope range toward the limit, within the horizon).`),
			h(
				'table',
				{ class: 'data', id: 'prediction-table' },
				h('thead', {}, h('tr', {}, ['what', 'series', 'now', 'limit', 'trend', 'reached in', 'at', ''].map((c) => h('th', { text: c })))),
				h(
					'tbody',
					{},
					list.map((p) => {
						const bytes = /bytes/.test(p.series);
						const f = bytes ? fmtBytes : (v) => fmtNum(v);
						return h(
							'tr',
							{ class: p.alert ? 'severe' : '' },
							h('td', { text: KIND_LABELS[p.kind] || p.kind }),
							h('td', { class: 'series', text: `${p.series}${Object.keys(p.labels || {}).length ? ` {${labelText(p.labels, ['device', 'fstype'])}}` : ''}` }),
							h('td', { class: 'num', text: f(p.current) }),
							h('td', { class: 'num', text: f(p.limit) }),
							h('td', { class: 'num', text: `${bytes ? fmtBytes(p.rate_per_s) : fmtNum(p.rate_per_s)}/s` }),
							h('td', { class: 'num', text: p.eta_s === null ? 'not heading there' : `${fmtDuration(p.eta_s)} (${fmtDuration(p.eta_lo_s)} – ${fmtDuration(p.eta_hi_s)})` }),
							h('td', { class: 'num', text: p.predicted_at === null ? '–' : fmtDateTime(p.predicted_at) }),
							h('td', {}, p.alert ? h('span', { class: 'badge sev-critical', text: 'alert' }) : p.significant ? h('span', { class: 'badge sev-warning', text: 'trend' }) : null)
						);
					})
				)
			)
		);
	}

	// One forecast at a time from this page (the daemon computes one at a
	// time and answers 503 to the next); only the latest choice is drawn.
	let chain = Promise.resolve();
	let wanted = 0;
	function loadForecast() {
		const id = ++wanted;
		chain = chain.then(() => (id === wanted ? drawForecast() : null));
		return chain;
	}

	async function drawForecast() {
		const choice = options[Number(seriesSelect.value) || 0];
		if (!choice) return;
		const horizon = Number(horizonSelect.value);
		replace(fcBox, message('info', `Forecasting ${choice.label}…`));
		let r;
		for (let attempt = 0; ; attempt++) {
			try {
				r = await api('/api/v1/forecast', { query: { series: choice.sel, horizon: String(horizon) }, signal: abort.signal });
				break;
			} catch (e) {
				// One forecast is computed at a time; another tab may hold it.
				if (e.status !== 503 || attempt >= 3) throw e;
				await new Promise((res) => setTimeout(res, 500 * (attempt + 1)));
			}
		}
		const s = (r.series || [])[0];
		if (!s) {
			replace(fcBox, message('info', 'No stored series matches.'));
			return;
		}
		if (s.error) {
			replace(fcNote, '');
			replace(fcBox, message('info', `${choice.label}: ${s.error}`));
			return;
		}
		const now = Date.now() / 1000;
		const hist = await queryRange(choice.sel, { from: now - Math.max(3 * horizon, 900), to: now, step: r.step_s, agg: s.aggregation || 'avg', signal: abort.signal });
		const hs = (hist.series || [])[0] || { points: [] };
		const pts = s.points || [];
		// The forecast starts at the last stored point, so the lines join.
		const join = [[s.last_ts, s.last_value, s.last_value, s.last_value, s.last_value, s.last_value]];
		const fc = join.concat(pts.map((p) => [p.ts, p.forecast, p.lo80, p.hi80, p.lo95, p.hi95]));
		const col = (i) => ({ points: fc.map((p) => [p[0], p[i]]) });
		const j = joinSeries([hs, col(1), col(3), col(2), col(5), col(4)]);
		if (chart) chart.destroy();
		const c = palette[0];
		chart = timeChart({
			name: 'forecast',
			height: 260,
			yFmt: choice.fmt,
			yIncrs: choice.bytes ? BYTE_INCRS : undefined,
			zero: false,
			series: [
				{ label: 'history', color: palette[8] },
				{ label: 'forecast', color: c, width: 2 },
				{ label: '80% high', color: alpha(c, 0.5), width: 1 },
				{ label: '80% low', color: alpha(c, 0.5), width: 1 },
				{ label: '95% high', color: alpha(c, 0.25), width: 1, dash: [3, 3] },
				{ label: '95% low', color: alpha(c, 0.25), width: 1, dash: [3, 3] },
			],
			spans: () => [{ at: s.last_ts, label: 'forecast' }],
			bands: [
				{ series: [2, 3], fill: alpha(c, 0.22) },
				{ series: [4, 2], fill: alpha(c, 0.1) },
				{ series: [3, 5], fill: alpha(c, 0.1) },
			],
		});
		chart.setData(j.xs, j.ys);
		replace(
			fcNote,
			`${choice.label}${s.aggregation === 'rate' ? ' (as a rate per second)' : ''}: ${s.model || 'model'} fitted on ${s.history_points} steps of ${fmtDuration(r.step_s)}; the bands are the 80% and 95% prediction intervals.`
		);
		replace(fcBox, chart.el);
	}

	const fail = (box, what) => (e) => {
		if (!abort.signal.aborted) replace(box, message('error', `${what}: ${e.message}`));
	};
	if (has('GET', '/api/v1/predictions')) loadPredictions().catch(fail(predBox, 'Predictions'));
	if (has('GET', '/api/v1/forecast')) {
		nextRound().then((doc) => {
			if (abort.signal.aborted) return;
			options = choices(doc);
			replace(seriesSelect, options.map((o, i) => h('option', { value: String(i), text: o.label })));
			loadForecast().catch(fail(fcBox, 'Forecast'));
		});
		seriesSelect.addEventListener('change', () => loadForecast().catch(fail(fcBox, 'Forecast')));
		horizonSelect.addEventListener('change', () => loadForecast().catch(fail(fcBox, 'Forecast')));
	}
	const timer = setInterval(() => {
		if (has('GET', '/api/v1/predictions')) loadPredictions().catch(fail(predBox, 'Predictions'));
	}, 30000);

	return () => {
		abort.abort();
		clearInterval(timer);
		if (chart) chart.destroy();
	};
}
