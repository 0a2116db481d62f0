// view_ask.js - a chat box over POST /api/v1/analyze: a question about
// this host goes to the daemon's analyst (and the LLM providers it is
// configured with); the answer comes back as text with where it came from.
// Answers are shown as text, never as markup.

import { h, panel, replace, message, renderValue, pick, fmtTime } from './dom.js';
import { api } from './api.js';

const MAX_QUESTION = 2000;

export function mount(root) {
	const abort = new AbortController();
	const log = h('ol', { class: 'chat-log', id: 'chat-log', 'aria-live': 'polite' });
	const input = h('textarea', { id: 'chat-input', rows: 3, maxlength: MAX_QUESTION, placeholder: 'Ask about this host, e.g. "why is the run queue long?"' });
	const send = h('button', { type: 'submit', class: 'primary', id: 'chat-send', text: 'Ask' });
	const form = h('form', { class: 'chat-form' }, input, send);
	replace(root, panel('Ask kpulse', { name: 'ask', note: 'Questions go to the daemon, which answers from its own data and the configured analysts.' }, log, form));

	function add(kind, ...body) {
		const li = h('li', { class: `chat-${kind}` }, h('span', { class: 'when', text: fmtTime(Date.now() / 1000) }), ...body);
		log.append(li);
		li.scrollIntoView({ block: 'nearest' });
		return li;
	}

	// {answer: {text, source, provider, note} | text, window: {said}, ...}
	function answerBody(r) {
		if (typeof r === 'string') return [h('div', { class: 'prose', text: r })];
		const ans = pick(r, 'answer', 'analysis', 'reply');
		const text = ans && typeof ans === 'object' ? pick(ans, 'text', 'content') : ans !== undefined ? ans : pick(r, 'text', 'content');
		const meta = [];
		if (ans && typeof ans === 'object') meta.push(...['source', 'provider', 'model'].map((k) => ans[k]).filter(Boolean));
		if (r.window && r.window.said) meta.push(`window: ${r.window.said}`);
		const rest = Object.fromEntries(Object.entries(r || {}).filter(([k]) => !['answer', 'analysis', 'reply', 'text', 'content', 'question', 'window'].includes(k)));
		return [
			h('div', { class: 'prose', text: typeof text === 'string' ? text : JSON.stringify(text ?? r, null, 2) }),
			meta.length ? h('div', { class: 'muted', text: meta.join(' · ') }) : null,
			ans && typeof ans === 'object' && ans.note ? h('div', { class: 'muted', text: ans.note }) : null,
			Object.keys(rest).length ? h('details', { class: 'provenance' }, h('summary', { text: 'reading and evidence' }), renderValue(rest, 1)) : null,
		];
	}

	form.addEventListener('submit', async (ev) => {
		ev.preventDefault();
		const q = input.value.trim();
		if (!q) return;
		add('question', h('div', { class: 'prose', text: q }));
		input.value = '';
		send.disabled = true;
		const pending = add('answer', message('info', 'Thinking…'));
		try {
			const r = await api('/api/v1/analyze', { method: 'POST', body: { question: q }, signal: abort.signal });
			replace(pending, h('span', { class: 'when', text: fmtTime(Date.now() / 1000) }), ...answerBody(r));
		} catch (e) {
			if (!abort.signal.aborted) replace(pending, message('error', e.message));
		} finally {
			send.disabled = false;
			input.focus();
		}
	});
	input.addEventListener('keydown', (ev) => {
		if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) form.requestSubmit();
	});
	return () => abort.abort();
}
