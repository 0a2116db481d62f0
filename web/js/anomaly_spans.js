// anomaly_spans.js - the anomalies of the last minutes, polled from
// GET /api/v1/anomalies (when the daemon has that route), as spans the
// charts shade: an anomaly belongs to the charts of its series' metric.

import { api } from './api.js';

const POLL_MS = 15000;

// The metric name of a series key name{k=v,...}:stat.
export function anomalyMetric(key) {
	const m = /^[^{:]+/.exec(key || '');
	return m ? m[0] : '';
}

export function anomalySpans(windowS) {
	let list = [];
	let timer = null;
	let stopped = false;
	const spans = {
		// Spans of the anomalies of these metrics.
		for(names) {
			const now = Date.now() / 1000;
			return list
				.filter((a) => names.includes(anomalyMetric(a.series)))
				.map((a) => ({ from: a.start, to: a.open ? Math.max(a.end || 0, now) : a.end, severity: a.severity }));
		},
		get list() {
			return list;
		},
		start(onChange) {
			const poll = async () => {
				try {
					const now = Date.now() / 1000;
					const r = await api('/api/v1/anomalies', { query: { from: (now - windowS).toFixed(0), limit: 200 } });
					list = (r && r.anomalies) || [];
					if (!stopped) onChange(list);
				} catch (e) {
					if (!stopped) console.warn('anomalies', e.message);
				}
				if (!stopped) timer = setTimeout(poll, POLL_MS);
			};
			poll();
		},
		stop() {
			stopped = true;
			clearTimeout(timer);
		},
	};
	return spans;
}
