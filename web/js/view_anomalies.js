// view_anomalies.js - what the models found: the current anomaly scores of
// the most surprising series (kpulse_anomaly_score, last 15 minutes), the
// anomalies of the last day (GET /api/v1/anomalies), and for the one
// selected, its series around the anomaly with the span shaded.

import { h, panel, replace, fmtDateTime, fmtDuration, fmtNum, message, selector, unitFormat } from './dom.js';
import { api, queryRange, window_ } from './api.js';
import { nextRound, seriesOf, seriesKey, subscribe } from './live.js';
import { timeChart, joinSeries, palette, Rolling } from './charts.js';
import { anomalyMetric } from './anomaly_spans.js';

const SCORE_WINDOW_S = 900;
const TOP_SCORES = 8;
const DAY_S = 86400;

// name{k=v,...}:stat -> {name, labels, stat}
export function parseKey(key) {
	const m = /^([^{:]+)(?:\{([^}]*)\})?(?::(\w+))?$/.exec(key || '');
	if (!m) return { name: key, labels: {}, stat: 'value' };
	const labels = {};
	for (const part of (m[2] || '').split(',')) {
		const eq = part.indexOf('=');
		if (eq > 0) labels[part.slice(0, eq)] = part.slice(eq + 1);
	}
	return { name: m[1], labels, stat: m[3] || 'value' };
}

const AGG = { rate: 'rate', p99: 'p99', value: 'avg' };

function scoreLabel(m) {
	return `${m.labels.metric}${m.labels.series ? `{${m.labels.series}}` : ''}:${m.labels.stat || ''}`;
}

export function mount(root) {
	const abort = new AbortController();
	let list = [];
	let selected = null;
	let minSeverity = 'info';
	const scoresBox = h('div', { class: 'chart-box' });
	const tableBox = h('div', { class: 'table-wrap' });
	const detailBox = h('div', { class: 'detail-box' });
	const sevSelect = h(
		'select',
		{ class: 'inline-select', 'aria-label': 'minimum severity' },
		['info', 'warning', 'critical'].map((s) => h('option', { value: s, text: `${s} and above` }))
	);
	const charts = [];
	let detailChart = null;

	replace(
		root,
		panel('Anomaly scores', { name: 'scores', note: 'The series the models find most surprising now; 0.5 is about a one-in-100,000 surprise.' }, scoresBox),
		panel('Anomalies', { name: 'anomalies', note: 'The last 24 hours, newest first. Select one to see its series.', tools: sevSelect }, tableBox),
		panel('Selected anomaly', { name: 'anomaly-detail' }, detailBox)
	);

	// The scores of the series most surprising now: their stored history,
	// then each round's value from the stream.
	let scores = null; // {keys, roll, chart}
	async function loadScores() {
		const doc = await nextRound();
		const top = seriesOf(doc, 'kpulse_anomaly_score')
			.filter((m) => Number.isFinite(m.value))
			.sort((a, b) => b.value - a.value)
			.slice(0, TOP_SCORES);
		if (!top.length) {
			replace(scoresBox, message('info', 'No series is modelled yet (the models warm up first, or KPULSE_MODELS is off).'));
			return;
		}
		const span = window_(SCORE_WINDOW_S, 5);
		const res = await Promise.all(
			top.map((m) => queryRange(selector(m.name, m.labels), { ...span, agg: 'max', signal: abort.signal }).then((r) => (r.series || [])[0] || { points: [] }))
		);
		const chart = timeChart({
			name: 'anomaly-scores',
			windowS: SCORE_WINDOW_S,
			yFmt: (v) => v.toFixed(2),
			yMin: 0,
			yMax: 1,
			series: top.map((m, i) => ({ label: scoreLabel(m), color: palette[i] })),
		});
		charts.push(chart);
		const roll = new Rolling(top.length, SCORE_WINDOW_S);
		const j = joinSeries(res);
		roll.load(j.xs, j.ys);
		scores = { keys: top.map((m) => seriesKey(m.name, m.labels)), roll, chart };
		chart.setData(roll.xs, roll.ys);
		replace(scoresBox, chart.el);
	}

	function onRound(doc) {
		if (!scores) return;
		scores.roll.push(
			doc.timestamp,
			scores.keys.map((k) => {
				const m = doc.byKey.get(k);
				return m && Number.isFinite(m.value) ? m.value : null;
			})
		);
		scores.chart.setData(scores.roll.xs, scores.roll.ys);
	}

	function renderTable() {
		const rank = { info: 0, warning: 1, critical: 2 };
		const shown = list.filter((a) => (rank[a.severity] ?? 0) >= rank[minSeverity]);
		if (!shown.length) {
			replace(tableBox, message('info', list.length ? 'No anomalies at this severity.' : 'No anomalies in the last 24 hours.'));
			return;
		}
		replace(
			tableBox,
			h(
				'table',
				{ class: 'data clickable', id: 'anomaly-table' },
				h('thead', {}, h('tr', {}, ['severity', 'series', 'started', 'lasted', 'peak score', 'detectors', 'contributors'].map((c) => h('th', { text: c })))),
				h(
					'tbody',
					{},
					shown.map((a) => {
						const tr = h(
							'tr',
							{ class: selected && selected.id === a.id ? 'selected' : '', tabindex: '0', dataset: { id: a.id } },
							h('td', {}, h('span', { class: `badge sev-${a.severity}`, text: a.severity }), a.open ? h('span', { class: 'badge open', text: 'open' }) : null),
							h('td', { class: 'series', text: a.series }),
							h('td', { class: 'num', text: fmtDateTime(a.start) }),
							h('td', { class: 'num', text: fmtDuration((a.open ? Date.now() / 1000 : a.end) - a.start) }),
							h('td', { class: 'num', text: fmtNum(a.peak_score) }),
							h('td', { text: (a.detectors || []).join(', ') }),
							h('td', { class: 'series', text: (a.contributors || []).slice(0, 3).map((c) => `${c.series} (${fmtNum(c.weight, 2)})`).join('; ') || '–' })
						);
						const choose = () => {
							selected = a;
							renderTable();
							showDetail(a);
						};
						tr.addEventListener('click', choose);
						tr.addEventListener('keydown', (ev) => ev.key === 'Enter' && choose());
						return tr;
					})
				)
			)
		);
	}

	async function showDetail(a) {
		const k = parseKey(a.series);
		const end = a.open ? Date.now() / 1000 : a.end;
		const pad = Math.max(600, (end - a.start) * 2);
		const from = a.start - pad;
		const to = Math.min(Date.now() / 1000, end + pad / 2);
		replace(detailBox, message('info', `Loading ${a.series}…`));
		try {
			const r = await queryRange(selector(anomalyMetric(a.series), k.labels), { from, to, step: Math.max(1, Math.round((to - from) / 240)), agg: AGG[k.stat] || 'avg', signal: abort.signal });
			const s = (r.series || [])[0];
			if (!s || !s.points.length) {
				replace(detailBox, message('info', `No stored history of ${a.series} around this anomaly.`));
				return;
			}
			if (detailChart) detailChart.destroy();
			const chart = (detailChart = timeChart({
				name: 'anomaly-detail',
				yFmt: unitFormat(k.name, k.stat),
				series: [{ label: `${a.series}`, color: palette[0] }],
				spans: () => [{ from: a.start, to: end, severity: a.severity }],
			}));
			const j = joinSeries([s]);
			chart.setData(j.xs, j.ys);
			replace(
				detailBox,
				h('p', { class: 'note' }, `${a.severity} anomaly of ${a.series} from ${fmtDateTime(a.start)} (${a.open ? 'still open' : `for ${fmtDuration(end - a.start)}`}), peak score ${fmtNum(a.peak_score)}; shaded on the chart.`),
				chart.el
			);
		} catch (e) {
			if (!abort.signal.aborted) replace(detailBox, message('error', `${a.series}: ${e.message}`));
		}
	}

	async function loadList() {
		const now = Date.now() / 1000;
		const r = await api('/api/v1/anomalies', { query: { from: (now - DAY_S).toFixed(0), limit: 500 }, signal: abort.signal });
		list = r.anomalies || [];
		renderTable();
		if (!selected && list.length) {
			selected = list[0];
			renderTable();
			showDetail(selected);
		} else if (!list.length) {
			replace(detailBox, message('info', 'Nothing selected.'));
		}
	}

	sevSelect.addEventListener('change', () => {
		minSeverity = sevSelect.value;
		renderTable();
	});
	const fail = (box, what) => (e) => {
		if (!abort.signal.aborted) replace(box, message('error', `${what}: ${e.message}`));
	};
	loadScores().catch(fail(scoresBox, 'Anomaly scores'));
	const off = subscribe(onRound);
	loadList().catch(fail(tableBox, 'Anomalies'));
	const timer = setInterval(() => loadList().catch(fail(tableBox, 'Anomalies')), 30000);

	return () => {
		abort.abort();
		off();
		clearInterval(timer);
		for (const c of charts) c.destroy();
		if (detailChart) detailChart.destroy();
	};
}
