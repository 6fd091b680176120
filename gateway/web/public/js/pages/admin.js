// Admin: users and roles (gateway), models (xray), hospitals/doctors/sessions and booking statistics with the
// audit log (booking), the tips editor (tips), statistics as charts (booking, report, reminders). One sub-page each: #/admin/<section>.
import { api } from '../api.js';
import { alertBox, card, field, h, showAlert } from '../dom.js';
import { errorText, t } from '../i18n.js';
import { bookingAdmin } from './admin_booking.js';
import { modelsAdmin } from './admin_models.js';
import { statsAdmin } from './admin_stats.js';
import { tipsAdmin } from './tips.js';

const SECTIONS = [['users', 'admin_users'], ['booking', 'admin_booking'], ['models', 'admin_models'], ['tips', 'admin_tips'],
  ['stats', 'admin_statistics']];

async function usersAdmin(route) {
  const q = route.params.get('q') || '';
  const search = h('input', { type: 'search', name: 'q', value: q, maxlength: 64 });
  const list = card(t('users_roles'), h('form', { class: 'search-row', role: 'search', onsubmit: (ev) => {
    ev.preventDefault(); location.hash = `#/admin/users?q=${encodeURIComponent(search.value.trim())}`;
  } }, field(t('username'), search), h('button', { type: 'submit', class: 'primary' }, t('search'))));
  const box = alertBox();
  try {
    const { items } = await api(`auth/users?limit=100${q ? `&q=${encodeURIComponent(q)}` : ''}`);
    list.append(box, h('div', { class: 'table-wrap' }, h('table', {},
      h('thead', {}, h('tr', {}, [t('username'), t('role'), t('wechat'), t('created')].map((k) => h('th', { scope: 'col' }, k)))),
      h('tbody', {}, items.map((u) => {
        const sel = h('select', { 'aria-label': `${t('role')} ${u.username}`, onchange: async () => {
          try { await api(`auth/users/${encodeURIComponent(u.username)}/role`, { method: 'PUT', json: { role: sel.value } }); showAlert(box, `${t('saved')}: ${u.username} → ${sel.value}`, 'ok'); } catch (err) { showAlert(box, errorText(err)); }
        } }, ['patient', 'admin', 'integrator'].map((r) => h('option', { value: r, selected: r === u.role }, r)));
        return h('tr', {}, h('th', { scope: 'row' }, u.username), h('td', {}, sel), h('td', {}, u.wechat ? '✓' : ''),
          h('td', {}, new Date(u.created_at).toLocaleDateString()));
      })))));
  } catch (err) { showAlert(box, errorText(err)); list.append(box); }
  return [list];
}

export async function adminPage(route, { session }) {
  const page = h('div', { class: 'page' }, h('h1', {}, t('admin_title')));
  if (!session.user || session.user.role !== 'admin') {
    page.append(card(null, h('p', {}, t('not_admin'))));
    return page;
  }
  const section = SECTIONS.some(([s]) => s === route.args[0]) ? route.args[0] : 'users';
  page.append(h('nav', { class: 'chips', 'aria-label': t('admin_title') }, SECTIONS.map(([s, key]) => h('a', {
    href: `#/admin/${s}`, class: `chip ${s === section ? 'on' : ''}`, 'aria-current': s === section ? 'page' : false,
  }, t(key)))));
  const parts = { users: usersAdmin, booking: bookingAdmin, models: modelsAdmin, tips: tipsAdmin, stats: statsAdmin };
  page.append(...(await parts[section](route)));
  return page;
}
