// view_overview.js - the host at a glance: headline tiles, CPU by mode,
// memory, disk and network throughput, run-queue and block I/O latency
// heatmaps, and per-device / per-interface tables. History comes from
// /query_range (the last 15 minutes), then every round of the stream adds
// a point. Anomalies of the charted metrics are shaded on their charts.

import { h, panel, replace, fmtPct, fmtBytes, fmtBytesRate, fmtNum, fmtSeconds, message } from './dom.js';
import { queryRange, has, window_ } from './api.js';
import { live, subscribe, seriesOf, valueOf, sumOf, sumRate, rateOf, slotQuantile, seriesKey } from './live.js';
import { timeChart, joinSeries, Rolling, palette, BYTE_INCRS } from './charts.js';
import { heatmap, heatLegend } from './heatmap.js';
import { anomalySpans } from './anomaly_spans.js';

const WINDOW_S = 900;
const STEP_S = 5;
const HEAT_WINDOW_S = 300;
const CPU_MODES = [
	{ label: 'user', modes: ['user'] },
	{ label: 'nice', modes: ['nice'] },
	{ label: 'system', modes: ['system'] },
	{ label: 'irq + softirq', modes: ['irq', 'softirq'] },
	{ label: 'iowait', modes: ['iowait'] },
	{ label: 'steal', modes: ['steal'] },
];
const RUNQ = 'kpulse_sched_runqueue_latency_seconds';
const BLOCK_LAT = 'kpulse_block_io_latency_seconds';

function cpuCount(doc) {
	const cpus = new Set(seriesOf(doc, 'kpulse_cpu_seconds_total').map((m) => m.labels.cpu));
	return cpus.size || 1;
}

// Sums /query_range series by a label function, on one time axis.
function groupSum(series, groups, groupOf) {
	const { xs, ys } = joinSeries(series);
	const out = groups.map(() => new Array(xs.length).fill(null));
	series.forEach((s, k) => {
		const g = groupOf(s);
		if (g < 0) return;
		ys[k].forEach((v, i) => {
			if (v !== null) out[g][i] = (out[g][i] || 0) + v;
		});
	});
	return { xs, ys: out };
}

function tile(label, value, sub, cls) {
	return h('div', { class: `tile ${cls || ''}` }, h('div', { class: 'tile-label', text: label }), h('div', { class: 'tile-value', text: value }), sub ? h('div', { class: 'tile-sub', text: sub }) : null);
}

export function mount(root) {
	const abort = new AbortController();
	const spans = anomalySpans(WINDOW_S);
	const cleanups = [];

	const tiles = h('div', { class: 'tiles', dataset: { panel: 'tiles' } });
	const cpu = timeChart({
		name: 'cpu',
		windowS: WINDOW_S,
		yFmt: (v) => fmtPct(v, 0),
		yMin: 0,
		yMax: 100,
		stacked: true,
		series: CPU_MODES.map((m, i) => ({ label: m.label, color: palette[i] })),
		spans: () => spans.for(['kpulse_cpu_seconds_total', 'kpulse_sched_cpu_busy_seconds_total']),
	});
	const mem = timeChart({
		name: 'memory',
		windowS: WINDOW_S,
		yFmt: fmtBytes,
		yIncrs: BYTE_INCRS,
		yMin: 0,
		series: [
			{ label: 'used', color: palette[0], fill: true },
			{ label: 'cache + buffers', color: palette[1] },
			{ label: 'available', color: palette[2] },
			{ label: 'total', color: palette[8], dash: [5, 4] },
		],
		spans: () => spans.for(['kpulse_mem_available_bytes', 'kpulse_mem_free_bytes', 'kpulse_mem_swap_free_bytes']),
	});
	const disk = timeChart({
		name: 'disk',
		windowS: WINDOW_S,
		yFmt: fmtBytesRate,
		yIncrs: BYTE_INCRS,
		yMin: 0,
		series: [
			{ label: 'read', color: palette[0] },
			{ label: 'write', color: palette[1] },
		],
		spans: () => spans.for(['kpulse_block_bytes_total', 'kpulse_block_ios_completed_total', 'kpulse_block_io_errors_total']),
	});
	const net = timeChart({
		name: 'network',
		windowS: WINDOW_S,
		yFmt: fmtBytesRate,
		yIncrs: BYTE_INCRS,
		yMin: 0,
		series: [
			{ label: 'received', color: palette[2] },
			{ label: 'sent', color: palette[4] },
		],
		spans: () => spans.for(['kpulse_net_rx_bytes_total', 'kpulse_net_tx_bytes_total', 'kpulse_net_tcp_retransmitted_segments_total']),
	});

	let blockDevice = null; // null: every device merged
	const runqColumns = () => live.hists.get(seriesKey(RUNQ, {})) || [];
	const blockColumns = () => {
		const byT = new Map();
		for (const [key, cols] of live.hists) {
			if (!key.startsWith(`${BLOCK_LAT}{`)) continue;
			for (const c of cols) {
				if (blockDevice && c.labels.device !== blockDevice) continue;
				const m = byT.get(c.t);
				if (!m) byT.set(c.t, { t: c.t, dt: c.dt, scale: c.scale, slots: c.slots.slice() });
				else c.slots.forEach((n, i) => (m.slots[i] = (m.slots[i] || 0) + n));
			}
		}
		return [...byT.values()].sort((a, b) => a.t - b.t);
	};
	const runq = heatmap({ name: 'runqueue-heatmap', windowS: HEAT_WINDOW_S, columns: runqColumns, spans: () => spans.for([RUNQ]) });
	const blk = heatmap({ name: 'blocklat-heatmap', windowS: HEAT_WINDOW_S, columns: blockColumns, spans: () => spans.for([BLOCK_LAT]) });
	const deviceSelect = h('select', { class: 'inline-select', 'aria-label': 'block device' }, h('option', { value: '', text: 'all devices' }));
	const diskTable = h('div', { class: 'table-wrap' });
	const netTable = h('div', { class: 'table-wrap' });

	replace(
		root,
		tiles,
		h(
			'div',
			{ class: 'grid2' },
			panel('CPU', { name: 'cpu', note: 'Share of all CPUs by mode (/proc/stat), stacked.' }, cpu.el),
			panel('Memory', { name: 'memory', note: 'Used is total minus available (/proc/meminfo).' }, mem.el),
			panel('Disk throughput', { name: 'disk', note: 'Bytes per second, all block devices.' }, disk.el),
			panel('Network throughput', { name: 'network', note: 'Bytes per second, all interfaces.' }, net.el),
			panel('Run-queue latency', { name: 'runqueue', note: 'Wakeup to running: one column per round since you logged in (log2 slots), p50 and p99 lines also from history. Last 5 minutes.' }, runq.el, heatLegend()),
			panel('Block I/O latency', { name: 'blocklat', note: 'Issue to completion: one column per round since you logged in (log2 slots), p50 and p99. Last 5 minutes.', tools: deviceSelect }, blk.el, heatLegend()),
			panel('Block devices', { name: 'devices' }, diskTable),
			panel('Interfaces', { name: 'interfaces' }, netTable)
		)
	);
	for (const c of [cpu, mem, disk, net, runq, blk]) cleanups.push(() => c.destroy());

	// ---- history
	const rolls = {
		cpu: new Rolling(CPU_MODES.length, WINDOW_S),
		mem: new Rolling(4, WINDOW_S),
		disk: new Rolling(2, WINDOW_S),
		net: new Rolling(2, WINDOW_S),
	};
	const hist = { runq: { xs: [], p50: [], p99: [] }, blk: { xs: [], p50: [], p99: [] } };
	let ncpu = 1;

	let span = window_(WINDOW_S, STEP_S);
	const q = (series, agg) => queryRange(series, { ...span, agg, signal: abort.signal }).then((r) => r.series || []);

	async function loadHistory() {
		span = window_(WINDOW_S, STEP_S);
		const [cpuS, total, avail, cached, buffers, dbytes, rx, tx] = await Promise.all([
			q('kpulse_cpu_seconds_total', 'rate'),
			q('kpulse_mem_total_bytes', 'avg'),
			q('kpulse_mem_available_bytes', 'avg'),
			q('kpulse_mem_cached_bytes', 'avg'),
			q('kpulse_mem_buffers_bytes', 'avg'),
			q('kpulse_block_bytes_total', 'rate'),
			q('kpulse_net_rx_bytes_total', 'rate'),
			q('kpulse_net_tx_bytes_total', 'rate'),
		]);
		const cpus = new Set(cpuS.map((s) => s.labels.cpu));
		ncpu = cpus.size || ncpu;
		const c = groupSum(cpuS, CPU_MODES, (s) => CPU_MODES.findIndex((m) => m.modes.includes(s.labels.mode)));
		rolls.cpu.load(c.xs, c.ys.map((col) => col.map((v) => (v === null ? null : (v / ncpu) * 100))));

		const m = joinSeries([total[0] || {}, avail[0] || {}, cached[0] || {}, buffers[0] || {}]);
		const [T, A, C, B] = m.ys;
		rolls.mem.load(m.xs, [
			T.map((t, i) => (t !== null && A[i] !== null ? t - A[i] : null)),
			C.map((c2, i) => (c2 !== null ? c2 + (B[i] || 0) : null)),
			A,
			T,
		]);
		const d = groupSum(dbytes, ['read', 'write'], (s) => ['read', 'write'].indexOf(s.labels.op));
		rolls.disk.load(d.xs, d.ys);
		const n = joinSeries([{ points: sumPoints(rx) }, { points: sumPoints(tx) }]);
		rolls.net.load(n.xs, n.ys);
		await loadLatencyHistory();
	}

	function sumPoints(list) {
		const g = groupSum(list, [0], () => 0);
		return g.xs.map((t, i) => [t, g.ys[0][i]]);
	}

	async function loadLatencyHistory() {
		span = window_(WINDOW_S, STEP_S);
		const blockSel = blockDevice ? `${BLOCK_LAT}{device="${blockDevice}"}` : null;
		const [r50, r99, b50, b99] = await Promise.all([
			q(RUNQ, 'p50'),
			q(RUNQ, 'p99'),
			blockSel ? q(blockSel, 'p50') : Promise.resolve([]),
			blockSel ? q(blockSel, 'p99') : Promise.resolve([]),
		]);
		const r = joinSeries([r50[0] || {}, r99[0] || {}]);
		hist.runq = { xs: r.xs, p50: r.ys[0], p99: r.ys[1] };
		const b = joinSeries([b50[0] || {}, b99[0] || {}]);
		hist.blk = { xs: b.xs, p50: b.ys[0], p99: b.ys[1] };
	}

	// History lines up to the first live column, then the columns' quantiles.
	function latencyLines(h0, cols) {
		const start = cols.length ? cols[0].t - cols[0].dt : Infinity;
		const xs = [];
		const p50 = [];
		const p99 = [];
		h0.xs.forEach((t, i) => {
			if (t >= start) return;
			xs.push(t);
			p50.push(h0.p50[i]);
			p99.push(h0.p99[i]);
		});
		for (const c of cols) {
			xs.push(c.t);
			p50.push(slotQuantile(c.slots, c.scale, 0.5));
			p99.push(slotQuantile(c.slots, c.scale, 0.99));
		}
		return [xs, p50, p99];
	}

	function drawAll() {
		cpu.setData(rolls.cpu.xs, rolls.cpu.ys);
		mem.setData(rolls.mem.xs, rolls.mem.ys);
		disk.setData(rolls.disk.xs, rolls.disk.ys);
		net.setData(rolls.net.xs, rolls.net.ys);
		runq.setLines(...latencyLines(hist.runq, runqColumns()));
		blk.setLines(...latencyLines(hist.blk, blockColumns()));
	}

	// ---- one point per round
	function onRound(doc) {
		ncpu = cpuCount(doc);
		const t = doc.timestamp;
		if (live.previous) {
			rolls.cpu.push(
				t,
				CPU_MODES.map((m) => {
					const r = sumRate('kpulse_cpu_seconds_total', (l) => m.modes.includes(l.mode));
					return r === null ? null : (r / ncpu) * 100;
				})
			);
			rolls.disk.push(t, ['read', 'write'].map((op) => sumRate('kpulse_block_bytes_total', (l) => l.op === op)));
			rolls.net.push(t, [sumRate('kpulse_net_rx_bytes_total'), sumRate('kpulse_net_tx_bytes_total')]);
		}
		const T = valueOf(doc, 'kpulse_mem_total_bytes');
		const A = valueOf(doc, 'kpulse_mem_available_bytes');
		const C = valueOf(doc, 'kpulse_mem_cached_bytes');
		const B = valueOf(doc, 'kpulse_mem_buffers_bytes');
		rolls.mem.push(t, [T !== null && A !== null ? T - A : null, C !== null ? C + (B || 0) : null, A, T]);
		updateDevices(doc);
		drawAll();
		renderTiles(doc);
		renderTables(doc);
	}

	function updateDevices(doc) {
		const devs = [...new Set(seriesOf(doc, BLOCK_LAT).map((m) => m.labels.device))].sort();
		const have = [...deviceSelect.options].map((o) => o.value).slice(1);
		if (devs.join() !== have.join()) {
			const cur = deviceSelect.value;
			replace(deviceSelect, h('option', { value: '', text: 'all devices' }), devs.map((d) => h('option', { value: d, text: d })));
			deviceSelect.value = devs.includes(cur) ? cur : '';
		}
	}
	deviceSelect.addEventListener('change', async () => {
		blockDevice = deviceSelect.value || null;
		try {
			await loadLatencyHistory();
		} catch (e) {
			if (!abort.signal.aborted) console.warn('latency history', e);
		}
		drawAll();
	});

	function renderTiles(doc) {
		const busy = sumRate('kpulse_cpu_seconds_total', (l) => l.mode !== 'idle' && l.mode !== 'iowait');
		const total = valueOf(doc, 'kpulse_mem_total_bytes');
		const avail = valueOf(doc, 'kpulse_mem_available_bytes');
		const swapT = valueOf(doc, 'kpulse_mem_swap_total_bytes');
		const swapF = valueOf(doc, 'kpulse_mem_swap_free_bytes');
		const l1 = valueOf(doc, 'kpulse_load1');
		const items = [];
		if (busy !== null) items.push(tile('CPU busy', fmtPct((busy / ncpu) * 100), `${ncpu} CPUs`));
		if (l1 !== null) items.push(tile('Load', fmtNum(l1, 3), `5 min ${fmtNum(valueOf(doc, 'kpulse_load5'), 3)} · 15 min ${fmtNum(valueOf(doc, 'kpulse_load15'), 3)}`));
		const running = valueOf(doc, 'kpulse_procs_running');
		if (running !== null) items.push(tile('Runnable', fmtNum(running), `${fmtNum(valueOf(doc, 'kpulse_procs_blocked'))} blocked on I/O`));
		if (total !== null && avail !== null) items.push(tile('Memory available', fmtBytes(avail), `of ${fmtBytes(total)} (${fmtPct((avail / total) * 100, 0)})`));
		if (swapT) items.push(tile('Swap used', fmtBytes(swapT - (swapF || 0)), `of ${fmtBytes(swapT)}`));
		const psi = ['cpu', 'memory', 'io'].map((r) => [r, rateOf(`kpulse_pressure_${r}_waiting_seconds_total`)]).filter(([, v]) => v !== null);
		if (psi.length) items.push(tile('Pressure', psi.map(([r, v]) => `${{ cpu: 'cpu', memory: 'mem', io: 'io' }[r]} ${fmtPct(v * 100, 0)}`).join(' · '), 'share of time some task waited (PSI)', 'tile-wide'));
		const est = valueOf(doc, 'kpulse_net_tcp_connections', { state: 'established' });
		const retr = rateOf('kpulse_net_tcp_retransmitted_segments_total');
		if (est !== null || retr !== null) items.push(tile('TCP', `${fmtNum(est)} established`, `${fmtNum(retr)} retransmits/s`));
		const oom = sumOf(doc, 'kpulse_mem_oom_kills_total');
		const slow = sumOf(doc, 'kpulse_block_slow_ios_total');
		if (oom !== null || slow !== null) items.push(tile('OOM kills · slow I/Os', `${fmtNum(oom)} · ${fmtNum(slow)}`, 'since kpulse started', oom ? 'tile-bad' : ''));
		const dropped = sumOf(doc, 'kpulse_events_dropped_total');
		if (dropped !== null) items.push(tile('Events dropped', fmtNum(dropped), 'ring buffers full', dropped ? 'tile-warn' : ''));
		replace(tiles, items);
	}

	function renderTables(doc) {
		const devs = [...new Set(seriesOf(doc, 'kpulse_block_ios_completed_total').map((m) => m.labels.device))];
		const rows = devs
			.map((d) => {
				const f = (l) => l.device === d;
				return {
					d,
					rd: sumRate('kpulse_block_bytes_total', (l) => f(l) && l.op === 'read'),
					wr: sumRate('kpulse_block_bytes_total', (l) => f(l) && l.op === 'write'),
					iops: sumRate('kpulse_block_ios_completed_total', f),
					util: valueOf(doc, 'kpulse_block_utilization_ratio', { device: d }),
					rawait: valueOf(doc, 'kpulse_block_read_await_seconds', { device: d }),
					wawait: valueOf(doc, 'kpulse_block_write_await_seconds', { device: d }),
				};
			})
			.sort((a, b) => (b.iops || 0) - (a.iops || 0) || a.d.localeCompare(b.d))
			.slice(0, 10);
		replace(
			diskTable,
			rows.length
				? h(
						'table',
						{ class: 'data' },
						h('thead', {}, h('tr', {}, ['device', 'read', 'write', 'IOPS', 'util', 'r_await', 'w_await'].map((c) => h('th', { text: c })))),
						h(
							'tbody',
							{},
							rows.map((r) =>
								h(
									'tr',
									{},
									h('td', { text: r.d }),
									h('td', { class: 'num', text: fmtBytesRate(r.rd) }),
									h('td', { class: 'num', text: fmtBytesRate(r.wr) }),
									h('td', { class: 'num', text: fmtNum(r.iops) }),
									h('td', { class: 'num', text: r.util === null ? '–' : fmtPct(r.util * 100, 0) }),
									h('td', { class: 'num', text: fmtSeconds(r.rawait) }),
									h('td', { class: 'num', text: fmtSeconds(r.wawait) })
								)
							)
						)
				  )
				: message('info', 'No block devices.')
		);
		const ifs = [...new Set(seriesOf(doc, 'kpulse_net_rx_bytes_total').map((m) => m.labels.interface))];
		const nrows = ifs
			.map((i) => ({
				i,
				rx: rateOf('kpulse_net_rx_bytes_total', { interface: i }),
				tx: rateOf('kpulse_net_tx_bytes_total', { interface: i }),
				err: (valueOf(doc, 'kpulse_net_rx_errors_total', { interface: i }) || 0) + (valueOf(doc, 'kpulse_net_tx_errors_total', { interface: i }) || 0),
				drop: (valueOf(doc, 'kpulse_net_rx_dropped_total', { interface: i }) || 0) + (valueOf(doc, 'kpulse_net_tx_dropped_total', { interface: i }) || 0),
			}))
			.sort((a, b) => (b.rx || 0) + (b.tx || 0) - (a.rx || 0) - (a.tx || 0) || a.i.localeCompare(b.i))
			.slice(0, 10);
		replace(
			netTable,
			nrows.length
				? h(
						'table',
						{ class: 'data' },
						h('thead', {}, h('tr', {}, ['interface', 'received', 'sent', 'errors', 'drops'].map((c) => h('th', { text: c })))),
						h(
							'tbody',
							{},
							nrows.map((r) =>
								h(
									'tr',
									{},
									h('td', { text: r.i }),
									h('td', { class: 'num', text: fmtBytesRate(r.rx) }),
									h('td', { class: 'num', text: fmtBytesRate(r.tx) }),
									h('td', { class: 'num', text: fmtNum(r.err) }),
									h('td', { class: 'num', text: fmtNum(r.drop) })
								)
							)
						)
				  )
				: message('info', 'No interfaces.')
		);
	}

	let offRound = null;
	loadHistory()
		.catch((e) => {
			if (!abort.signal.aborted) root.prepend(message('error', `History could not be loaded: ${e.message}`));
		})
		.finally(() => {
			if (abort.signal.aborted) return;
			drawAll();
			if (live.latest) onRound(live.latest);
			offRound = subscribe(onRound);
		});
	if (has('GET', '/api/v1/anomalies')) spans.start(() => drawAll());

	return () => {
		abort.abort();
		spans.stop();
		if (offRound) offRound();
		for (const c of cleanups) c();
	};
}
