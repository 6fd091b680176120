// Report history: the user's reports (cursor pages from the report service) and each indicator's values over time
// as a uPlot chart (/api/report/v1/indicators and /indicators/{code}/history).
import { api } from '../api.js';
import { card, h } from '../dom.js';
import { errorText, getLang, t } from '../i18n.js';
import { indicatorChart } from '../charts.js';

function reportItem(r) {
  const kinds = r.sections.map((s) => t(`section_${s.kind}`) + (s.status === 'unavailable' ? ` (${t('st_unavailable')})` : '')).join('、');
  return h('li', { class: 'report-item' },
    h('span', {}, h('a', { href: `#/report/${r.id}` }, new Date(r.report_date || r.created_at).toLocaleString()),
      h('span', { class: 'small muted' }, ` · ${kinds}`)),
    h('span', {}, r.urgent ? h('span', { class: 'badge missed' }, t('urgent')) : null,
      h('span', { class: `badge ${r.status}` }, t(`rstatus_${r.status}`))));
}

async function reportsCard() {
  const list = h('ul', { class: 'links reports' });
  const more = h('button', { type: 'button', class: 'small', hidden: true }, t('more'));
  const note = h('p', { class: 'muted', hidden: true }, t('no_reports'));
  const section = card(t('my_reports'), list, note, more);
  let cursor = null;
  const page = async () => {
    more.disabled = true;
    try {
      const res = await api(`report/v1/reports?limit=10${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      list.append(...res.items.map(reportItem));
      cursor = res.next_cursor;
      more.hidden = !cursor;
      note.hidden = list.children.length > 0;
    } catch (err) {
      section.append(h('p', { class: 'alert error' }, errorText(err)));
    } finally { more.disabled = false; }
  };
  more.addEventListener('click', page);
  await page();
  return section;
}

async function trendsCard(route) {
  const section = card(t('indicator_trends'));
  let index;
  try { index = (await api('report/v1/indicators')).items; } catch (err) {
    section.append(h('p', { class: 'muted' }, errorText(err)));
    return section;
  }
  if (!index.length) { section.append(h('p', { class: 'muted' }, t('no_history'))); return section; }
  const code = index.some((i) => i.code === route.params.get('code')) ? route.params.get('code') : index[0].code;
  const label = (i) => `${getLang() === 'en' ? i.name_en : i.name}${i.count > 1 ? ` (${i.count})` : ''}`;
  const select = h('select', { name: 'indicator', onchange: () => { location.hash = `#/history?code=${encodeURIComponent(select.value)}`; } },
    index.map((i) => h('option', { value: i.code, selected: i.code === code }, label(i))));
  const id = 'indicator-select';
  select.id = id;
  section.append(h('div', { class: 'field' }, h('label', { for: id }, t('indicator')), select));
  try {
    const hist = await api(`report/v1/indicators/${encodeURIComponent(code)}/history`);
    const name = getLang() === 'en' ? hist.name_en : hist.name;
    section.append(indicatorChart(hist.points, name));
    section.append(h('div', { class: 'table-wrap' }, h('table', { class: 'history-table' },
      h('thead', {}, h('tr', {}, [t('report_date'), t('col_value'), t('col_flag')].map((k) => h('th', { scope: 'col' }, k)))),
      h('tbody', {}, hist.points.slice().reverse().map((p) => h('tr', {},
        h('td', {}, h('a', { href: `#/report/${p.report_id}` }, new Date(p.taken_at).toLocaleDateString())),
        h('td', {}, `${p.value} ${p.unit || ''}`), h('td', {}, p.flag || '—')))))));
  } catch (err) { section.append(h('p', { class: 'alert error' }, errorText(err))); }
  return section;
}

export async function historyPage(route) {
  const page = h('div', { class: 'page' }, h('h1', {}, t('history_title')));
  const [trends, reports] = await Promise.all([trendsCard(route), reportsCard()]);
  page.append(trends, reports);
  return page;
}
