// Home: the latest report (urgent banner when it has a critical value), today's doses, appointments and tips.
import { api } from '../api.js';
import { card, h } from '../dom.js';
import { getLang, t } from '../i18n.js';
import { trendChart } from '../charts.js';

export async function homePage(route, { session }) {
  const page = h('div', { class: 'page' }, h('h1', {}, t('home_title')));
  let latest = null;
  try { latest = (await api('report/v1/reports?limit=1')).items[0] || null; } catch { /* shown as none */ }
  if (latest && latest.urgent) {
    page.append(h('div', { class: 'banner urgent', role: 'alert' }, h('strong', {}, t('urgent_banner')), ' ',
      h('a', { href: `#/report/${latest.id}` }, t('report_title'))));
  }
  page.append(card(t('latest_report'), latest
    ? h('p', {}, h('a', { href: `#/report/${latest.id}` }, `${t('report_title')} · ${new Date(latest.created_at).toLocaleString()}`),
      ' ', h('span', { class: `badge ${latest.status}` }, t(`rstatus_${latest.status}`)))
    : h('p', { class: 'muted' }, t('no_reports')),
  h('p', { class: 'actions' }, h('a', { href: '#/analysis', class: 'button primary' }, t('start_analysis')), ' ',
    h('a', { href: '#/history', class: 'button' }, t('history_title')))));

  const history = card(t('trend'));
  page.append(history);
  try {
    const { items } = await api('xray/v1/xray/analyses?limit=50');
    if (!items.length) history.append(h('p', { class: 'muted' }, t('no_history')));
    else history.append(trendChart(items));
  } catch (err) {
    history.append(h('p', { class: 'muted' }, t('no_history')));
  }
  const [doses, bookings, tips] = await Promise.allSettled([
    (() => {
      const start = new Date(); start.setHours(0, 0, 0, 0);
      const end = new Date(start); end.setDate(end.getDate() + 1);
      return api(`reminders/v1/occurrences?from=${encodeURIComponent(start.toISOString())}&to=${encodeURIComponent(end.toISOString())}`);
    })(),
    api('booking/v1/bookings?limit=20'),
    api(`tips/v1/recommendations?limit=3&lang=${getLang() === 'en' ? 'en' : 'zh-CN'}`),
  ]);
  const unavailable = h('p', { class: 'muted' }, t('pending_service'));
  const hm = (iso) => new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  page.append(card(t('today_doses'), doses.status === 'fulfilled'
    ? (doses.value.occurrences.length ? h('ul', { class: 'links' }, doses.value.occurrences.map((o) => h('li', {},
      h('span', {}, hm(o.due_at)), h('span', { class: `badge ${o.state}` }, t(`state_${o.state}`)))))
      : h('p', { class: 'muted' }, t('no_doses')))
    : unavailable.cloneNode(true), h('a', { href: '#/medication' }, t('nav_medication'))));
  const todayStr = new Date().toLocaleDateString('en-CA');
  page.append(card(t('upcoming'), bookings.status === 'fulfilled'
    ? (() => {
      const next = bookings.value.items.filter((b) => b.status === 'confirmed' && b.date >= todayStr);
      return next.length ? h('ul', { class: 'links' }, next.map((b) => h('li', {},
        h('span', {}, `${b.date} ${t(`period_${b.period}`)} · ${b.hospital.name} · ${b.doctor.name}`),
        h('a', { href: `#/booking/voucher/${b.id}`, class: 'button small' }, t('voucher')))))
        : h('p', { class: 'muted' }, t('no_bookings'));
    })()
    : unavailable.cloneNode(true), h('a', { href: '#/booking' }, t('nav_booking'))));
  page.append(card(t('recommended'), tips.status === 'fulfilled' && tips.value.items.length
    ? h('ul', { class: 'tips' }, tips.value.items.map((r) => h('li', { class: 'tip' },
      h('a', { href: `#/tips/${r.tip.id}` }, r.tip.title),
      h('p', { class: 'small reason' }, getLang() === 'en' ? r.reason.text_en : r.reason.text))))
    : h('p', { class: 'muted' }, tips.status === 'fulfilled' ? t('no_tips') : t('pending_service')),
  h('a', { href: '#/tips' }, t('nav_tips'))));
  return page;
}
