// view_processes.js - the busiest processes (the top K kpulse ranks each
// round) with their CPU, run-queue wait, page faults and block I/O as
// rates over the last few rounds; a chart of the top processes' CPU
// over the last 15 minutes; and, when the daemon collects them, the same
// for cgroups (every kpulse_cgroup_* series with a cgroup label).

import { h, panel, replace, fmtPct, fmtBytesRate, fmtNum, message, selector } from './dom.js';
import { queryRange, window_ } from './api.js';
import { live, subscribe, nextRound, seriesOf, recentRate, processLabel } from './live.js';
import { timeChart, joinSeries, palette } from './charts.js';

const WINDOW_S = 900;
const TOP_CHART = 6;

const PROC_COLUMNS = [
	{ id: 'cpu', label: 'CPU', fmt: (v) => fmtPct(v * 100), metric: 'kpulse_sched_process_cpu_seconds_total' },
	{ id: 'runq', label: 'run-queue wait', fmt: (v) => fmtPct(v * 100), metric: 'kpulse_sched_process_runqueue_seconds_total', title: 'share of the time waiting for a CPU' },
	{ id: 'faults', label: 'page faults/s', fmt: fmtNum, metric: 'kpulse_mem_process_page_faults_total' },
	{ id: 'read', label: 'read', fmt: fmtBytesRate, metric: 'kpulse_block_process_io_bytes_total', op: 'read' },
	{ id: 'write', label: 'write', fmt: fmtBytesRate, metric: 'kpulse_block_process_io_bytes_total', op: 'write' },
];

const CG_COLUMNS = [
	{ id: 'cpu', label: 'CPU', fmt: (v) => fmtPct(v * 100), metric: 'kpulse_cgroup_cpu_seconds_total' },
	{ id: 'runq', label: 'run-queue wait', fmt: (v) => fmtPct(v * 100), metric: 'kpulse_cgroup_runqueue_seconds_total' },
	{ id: 'faults', label: 'page faults/s', fmt: fmtNum, metric: 'kpulse_cgroup_page_faults_total' },
	{ id: 'read', label: 'read', fmt: fmtBytesRate, metric: 'kpulse_cgroup_io_bytes_total', op: 'read' },
	{ id: 'write', label: 'write', fmt: fmtBytesRate, metric: 'kpulse_cgroup_io_bytes_total', op: 'write' },
	{ id: 'oom', label: 'OOM kills', fmt: fmtNum, metric: 'kpulse_cgroup_oom_kills_total', total: true },
];

// Rows keyed by a label (pid or cgroup): {key, name, values: {col: rate}}.
function tableRows(doc, columns, keyLabel, nameLabel) {
	const rows = new Map();
	for (const m of doc.metrics) {
		const col = columns.find((c) => c.metric === m.name && (!c.op || c.op === (m.labels || {}).op));
		if (!col || !m.labels) continue;
		// Per-process series are per name and cgroup unless kpulse runs
		// with per-pid series: a row is then a group, with no pid.
		const group = keyLabel === 'pid' && m.labels.pid === undefined && m.labels.comm !== undefined;
		if (m.labels[keyLabel] === undefined && !group) continue;
		const key = group ? `${m.labels.comm}\u0000${m.labels.cgroup || ''}` : m.labels[keyLabel];
		let row = rows.get(key);
		if (!row) rows.set(key, (row = { key, shown: group ? '–' : key, name: nameLabel ? m.labels[nameLabel] : key, values: {} }));
		const v = col.total ? m.value : recentRate(m);
		if (v !== null && v !== undefined) row.values[col.id] = (row.values[col.id] || 0) + v;
	}
	// A row with nothing to show (it just entered the top K) waits a round.
	return [...rows.values()].filter((row) => Object.keys(row.values).length);
}

function sortableTable(columns, first, state, onSort) {
	const head = h(
		'tr',
		{},
		first.map((c) => h('th', { text: c.label })),
		columns.map((c) => {
			const th = h('th', { class: `num sortable ${state.sort === c.id ? 'sorted' : ''}`, title: c.title || `sort by ${c.label}`, text: c.label + (state.sort === c.id ? ' ▾' : '') });
			th.addEventListener('click', () => onSort(c.id));
			return th;
		})
	);
	return { head };
}

export function mount(root) {
	const abort = new AbortController();
	const state = { sort: 'cpu', cgSort: 'cpu' };
	const procTable = h('div', { class: 'table-wrap' });
	const cgTable = h('div', { class: 'table-wrap' });
	const cgPanel = panel('Cgroups', { name: 'cgroups', note: 'The busiest cgroups by path, as rates over the last round.' }, cgTable);
	cgPanel.hidden = true;
	const chartBox = h('div', { class: 'chart-box' });
	let chart = null;
	let chartLabels = '';

	replace(
		root,
		panel('Processes', { name: 'processes', note: 'The top processes of the last round (the rest is summed in kpulse_*_other_processes_*). Click a column to sort.' }, procTable),
		panel('CPU by process', { name: 'process-cpu', note: 'The busiest processes of the last 15 minutes, share of one CPU.' }, chartBox),
		cgPanel
	);

	function renderProcs(doc) {
		const rows = tableRows(doc, PROC_COLUMNS, 'pid', 'comm');
		rows.sort((a, b) => (b.values[state.sort] || 0) - (a.values[state.sort] || 0) || Number(a.key) - Number(b.key));
		const { head } = sortableTable(PROC_COLUMNS, [{ label: 'pid' }, { label: 'command' }], state, (id) => {
			state.sort = id;
			renderProcs(doc);
		});
		replace(
			procTable,
			rows.length
				? h(
						'table',
						{ class: 'data', id: 'process-table' },
						h('thead', {}, head),
						h(
							'tbody',
							{},
							rows.map((r) =>
								h(
									'tr',
									{},
									h('td', { class: 'num', text: r.shown }),
									h('td', { class: 'comm', text: r.name }),
									PROC_COLUMNS.map((c) => h('td', { class: 'num', text: r.values[c.id] === undefined ? '–' : c.fmt(r.values[c.id]) }))
								)
							)
						)
				  )
				: message('info', 'No per-process series in the last round yet.')
		);
	}

	function renderCgroups(doc) {
		const rows = tableRows(doc, CG_COLUMNS, 'cgroup');
		cgPanel.hidden = rows.length === 0;
		if (!rows.length) return;
		rows.sort((a, b) => (b.values[state.cgSort] || 0) - (a.values[state.cgSort] || 0) || a.key.localeCompare(b.key));
		const { head } = sortableTable(CG_COLUMNS, [{ label: 'cgroup' }], { sort: state.cgSort }, (id) => {
			state.cgSort = id;
			renderCgroups(doc);
		});
		replace(
			cgTable,
			h(
				'table',
				{ class: 'data', id: 'cgroup-table' },
				h('thead', {}, head),
				h(
					'tbody',
					{},
					rows.map((r) => h('tr', {}, h('td', { class: 'comm', text: r.key }), CG_COLUMNS.map((c) => h('td', { class: 'num', text: r.values[c.id] === undefined ? '–' : c.fmt(r.values[c.id]) }))))
				)
			)
		);
	}

	// History of the processes busiest now: one exact query each (a query
	// by name alone would match every process the store has seen, more
	// than one query may return), then the stream's rounds.
	let history = new Map(); // "comm (pid)" -> [[ts, v]]
	async function loadHistory() {
		const doc = await nextRound();
		const now = seriesOf(doc, 'kpulse_sched_process_cpu_seconds_total').sort((a, b) => b.value - a.value);
		const span = window_(WINDOW_S, 10);
		const res = await Promise.all(
			now.slice(0, TOP_CHART * 2).map((m) => queryRange(selector(m.name, m.labels), { ...span, agg: 'rate', signal: abort.signal }).then((r) => (r.series || [])[0]))
		);
		history = new Map(res.filter(Boolean).map((s) => [processLabel(s.labels), s.points]));
	}

	function drawChart() {
		const series = new Map();
		let lastHist = 0;
		for (const [k, pts] of history) {
			series.set(k, pts.slice());
			if (pts.length) lastHist = Math.max(lastHist, pts[pts.length - 1][0]);
		}
		for (const { t, cpu } of live.procCpu) {
			if (t <= lastHist) continue;
			for (const [k, v] of cpu) {
				if (!series.has(k)) series.set(k, []);
				series.get(k).push([t, v]);
			}
		}
		const total = (pts) => pts.reduce((a, [, v]) => a + (v || 0), 0);
		const top = [...series.entries()].sort((a, b) => total(b[1]) - total(a[1])).slice(0, TOP_CHART);
		const labels = top.map(([k]) => k);
		if (!chart || labels.join('|') !== chartLabels) {
			if (chart) chart.destroy();
			chart = timeChart({
				name: 'process-cpu',
				windowS: WINDOW_S,
				yFmt: (v) => fmtPct(v * 100, 0),
				yMin: 0,
				series: labels.map((label, i) => ({ label, color: palette[i] })),
			});
			chartLabels = labels.join('|');
			replace(chartBox, top.length ? chart.el : message('info', 'No per-process CPU yet.'));
		}
		const j = joinSeries(top.map(([, points]) => ({ points })));
		chart.setData(j.xs, j.ys);
	}

	function onRound(doc) {
		renderProcs(doc);
		renderCgroups(doc);
		drawChart();
	}
	let off = null;
	loadHistory()
		.catch((e) => {
			if (!abort.signal.aborted) console.warn('process history:', e.message);
		})
		.finally(() => {
			if (abort.signal.aborted) return;
			if (live.latest) onRound(live.latest);
			off = subscribe(onRound);
		});

	return () => {
		abort.abort();
		if (off) off();
		if (chart) chart.destroy();
	};
}
