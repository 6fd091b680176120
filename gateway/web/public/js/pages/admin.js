// Admin: roles (gateway) and the X-ray model registry (xray service). Other admin areas wait for their services.
import { api } from '../api.js';
import { alertBox, card, field, h, showAlert } from '../dom.js';
import { errorText, t } from '../i18n.js';
import { bookingAdmin } from './admin_booking.js';
import { tipsAdmin } from './tips.js';

export async function adminPage(route, { session }) {
  const page = h('div', { class: 'page' }, h('h1', {}, t('admin_title')));
  if (!session.user || session.user.role !== 'admin') {
    page.append(card(null, h('p', {}, t('not_admin'))));
    return page;
  }
  const username = h('input', { name: 'username', required: true, autocomplete: 'off' });
  const role = h('select', { name: 'role' }, ['patient', 'admin', 'integrator'].map((r) => h('option', { value: r }, r)));
  const box = alertBox();
  page.append(card(t('users_roles'), h('form', {
    class: 'stack',
    onsubmit: async (ev) => {
      ev.preventDefault();
      try {
        const u = await api(`auth/users/${encodeURIComponent(username.value.trim())}/role`, { method: 'PUT', json: { role: role.value } });
        showAlert(box, `${t('saved')}: ${u.username} → ${u.role}`, 'ok');
      } catch (err) { showAlert(box, errorText(err)); }
    },
  }, field(t('username'), username), field(t('role'), role), box, h('button', { type: 'submit', class: 'primary' }, t('set_role')))));

  const models = card(t('models'));
  page.append(models);
  const mbox = alertBox();
  const load = async () => {
    try {
      const [list, served] = await Promise.all([api('xray/v1/models'), api('xray/v1/models/served')]);
      const rows = list.items.map((m) => h('tr', {},
        h('td', {}, m.name), h('td', {}, m.version), h('td', {}, m.status),
        h('td', {}, h('button', {
          type: 'button', class: 'small',
          onclick: async () => { try { await api(`xray/v1/models/${m.name}/versions/${m.version}:promote`, { method: 'POST' }); load(); } catch (err) { showAlert(mbox, errorText(err)); } },
        }, t('promote')))));
      models.replaceChildren(h('h2', {}, t('models')), mbox,
        h('div', { class: 'table-wrap' }, h('table', {}, h('thead', {}, h('tr', {},
          ['model_name', 'model_version', 'model_stage', ''].map((k) => h('th', { scope: 'col' }, k ? t(k) : '')))), h('tbody', {}, rows))),
        h('p', { class: 'small muted' }, `${t('served')}: ${Object.entries(served.models || {}).map(([n, m]) => `${n} ${m.version || ''}`).join('，') || '—'}`));
    } catch (err) { showAlert(mbox, errorText(err)); models.append(mbox); }
  };
  await load();
  page.append(h('h2', { class: 'section' }, t('admin_booking')), ...(await bookingAdmin()));
  page.append(h('h2', { class: 'section' }, t('tips_editor')), ...(await tipsAdmin()));
  return page;
}
