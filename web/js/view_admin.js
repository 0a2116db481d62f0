// view_admin.js - users and API tokens, for admins: the users and their
// roles (GET/POST/DELETE /api/v1/users) and a form that creates an API
// token (POST /api/v1/auth/tokens), shown once.

import { h, panel, replace, message } from './dom.js';
import { api, session, can } from './api.js';

export function mount(root) {
	const abort = new AbortController();
	const usersBox = h('div', { class: 'table-wrap' });
	const status = h('div', { class: 'action-status' });
	const panels = [panel('Users', { name: 'users' }, usersBox, status)];

	if (can('POST', '/api/v1/users')) {
		const name = h('input', { id: 'new-user', name: 'name', autocomplete: 'off', placeholder: 'name', required: true });
		const pass = h('input', { id: 'new-password', name: 'password', type: 'password', autocomplete: 'new-password', placeholder: 'password (8+ bytes)', required: true });
		const role = h('select', { id: 'new-role', name: 'role' }, ['viewer', 'operator', 'admin'].map((r) => h('option', { value: r, text: r })));
		const form = h('form', { class: 'inline-form', id: 'user-form' }, name, pass, role, h('button', { type: 'submit', text: 'Add user' }));
		form.addEventListener('submit', async (ev) => {
			ev.preventDefault();
			try {
				await api('/api/v1/users', { method: 'POST', body: { name: name.value, password: pass.value, role: role.value } });
				replace(status, message('ok', `User ${name.value} added.`));
				name.value = pass.value = '';
				await load();
			} catch (e) {
				replace(status, message('error', e.message));
			}
		});
		panels.push(panel('Add a user', { name: 'add-user' }, form));
	}
	if (can('POST', '/api/v1/auth/tokens')) {
		const role = h('select', { id: 'token-role' }, ['viewer', 'operator', 'admin'].map((r) => h('option', { value: r, text: r })));
		const label = h('input', { id: 'token-label', maxlength: 64, placeholder: 'label, e.g. prometheus' });
		const out = h('div', { class: 'token-out' });
		const form = h('form', { class: 'inline-form', id: 'token-form' }, role, label, h('button', { type: 'submit', text: 'Create token' }));
		form.addEventListener('submit', async (ev) => {
			ev.preventDefault();
			try {
				const r = await api('/api/v1/auth/tokens', { method: 'POST', body: { role: role.value, label: label.value } });
				replace(out, message('ok', `Token ${r.id} (${r.role}) — copy it now, it is not shown again:`), h('code', { class: 'secret', text: r.token }));
			} catch (e) {
				replace(out, message('error', e.message));
			}
		});
		panels.push(panel('API tokens', { name: 'tokens', note: 'Long-lived tokens for machines (Prometheus, scripts), stored hashed.' }, form, out));
	}
	replace(root, ...panels);

	async function load() {
		const r = await api('/api/v1/users', { signal: abort.signal });
		const users = r.users || [];
		const canDelete = can('DELETE', '/api/v1/users/{name}');
		replace(
			usersBox,
			h(
				'table',
				{ class: 'data compact', id: 'user-table' },
				h('thead', {}, h('tr', {}, h('th', { text: 'user' }), h('th', { text: 'role' }), canDelete ? h('th', {}) : null)),
				h(
					'tbody',
					{},
					users.map((u) => {
						const n = u.name || u.user;
						let del = null;
						if (canDelete && n !== session.user) {
							del = h('button', { type: 'button', class: 'danger small', dataset: { user: n }, text: 'Delete' });
							del.addEventListener('click', async () => {
								if (!window.confirm(`Delete user ${n}?`)) return;
								try {
									await api(`/api/v1/users/${encodeURIComponent(n)}`, { method: 'DELETE' });
									replace(status, message('ok', `User ${n} deleted.`));
									await load();
								} catch (e) {
									replace(status, message('error', e.message));
								}
							});
						}
						return h('tr', {}, h('td', { text: n }), h('td', {}, h('span', { class: `role role-${u.role}`, text: u.role })), canDelete ? h('td', {}, del) : null);
					})
				)
			)
		);
	}
	load().catch((e) => {
		if (!abort.signal.aborted) replace(usersBox, message('error', `Users: ${e.message}`));
	});
	return () => abort.abort();
}
