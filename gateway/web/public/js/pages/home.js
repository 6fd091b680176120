// Home: the latest results this browser session produced or the last X-ray on record, and the way in.
import { api } from '../api.js';
import { card, h } from '../dom.js';
import { t } from '../i18n.js';
import { latestAnalysis, urgentOf } from './analysis.js';
import { trendChart } from '../charts.js';

export async function homePage(route, { session }) {
  const page = h('div', { class: 'page' }, h('h1', {}, t('home_title')));
  const latest = latestAnalysis();
  if (latest && urgentOf(latest)) {
    page.append(h('div', { class: 'banner urgent', role: 'alert' }, h('strong', {}, t('urgent_banner')), ' ',
      h('a', { href: '#/report' }, t('report_title'))));
  }
  page.append(card(t('latest_report'), latest
    ? h('p', {}, h('a', { href: '#/report' }, `${t('report_title')} · ${new Date(latest.at).toLocaleString()}`))
    : h('p', { class: 'muted' }, t('no_reports')),
  h('a', { href: '#/analysis', class: 'button primary' }, t('start_analysis'))));

  const history = card(t('trend'));
  page.append(history);
  try {
    const { items } = await api('xray/v1/xray/analyses?limit=50');
    if (!items.length) history.append(h('p', { class: 'muted' }, t('no_history')));
    else history.append(trendChart(items));
  } catch (err) {
    history.append(h('p', { class: 'muted' }, t('no_history')));
  }
  page.append(card(t('today_doses'), h('p', { class: 'muted' }, t('pending_service')),
    h('a', { href: '#/medication' }, t('nav_medication'))));
  page.append(card(t('upcoming'), h('p', { class: 'muted' }, t('pending_service')),
    h('a', { href: '#/booking' }, t('nav_booking'))));
  return page;
}
