// New analysis and the report page, both through the report service (/api/report/v1/reports): the upload makes one
// report; its page follows the report's progress over SSE (fetch-based, with the in-memory token) and renders the
// composed report: abnormal items first, the indicator table with printed ranges, trends, the X-ray with overlays
// that toggle, departments into booking, tips, downloads (PDF / HTML / FHIR from the service) and the disclaimer.
import { api, blobUrl, download, sse } from '../api.js';
import { alertBox, card, field, h, showAlert } from '../dom.js';
import { errorText, getLang, t } from '../i18n.js';
import { sparkline } from '../charts.js';

const ABNORMAL = new Set(['L', 'H', 'LL', 'HH', 'POS', 'ABN']);
const CRITICAL = new Set(['LL', 'HH']);
const KINDS = ['lab', 'xray', 'symptoms'];
// The X-ray films this browser session uploaded, by report id: shown under the overlays. In memory only.
const films = new Map();

let following = null;  // the report page's SSE subscription, closed when the user leaves the page
window.addEventListener('hashchange', () => { if (following) following.abort(); following = null; });

export async function analysisPage(route, { go }) {
  const lab = h('input', { type: 'file', name: 'lab', accept: 'image/*,application/pdf', capture: 'environment' });
  const xray = h('input', { type: 'file', name: 'xray', accept: 'image/png,image/jpeg,.dcm,application/dicom', capture: 'environment' });
  const symptoms = h('textarea', { name: 'symptoms', rows: 3, maxlength: 2000, placeholder: t('symptoms_ph') });
  const sex = h('select', { name: 'sex' }, [['', t('not_given')], ['female', t('sex_female')], ['male', t('sex_male')]]
    .map(([v, l]) => h('option', { value: v }, l)));
  const age = h('input', { type: 'number', name: 'age', min: 0, max: 130, step: 1, inputmode: 'numeric' });
  const box = alertBox();
  const submit = h('button', { type: 'submit', class: 'primary' }, t('analyse'));
  const form = h('form', {
    class: 'stack',
    onsubmit: async (ev) => {
      ev.preventDefault();
      showAlert(box, '');
      const labFile = lab.files[0];
      const xrayFile = xray.files[0];
      const text = symptoms.value.trim();
      if (!labFile && !xrayFile && !text) { showAlert(box, t('need_input')); return; }
      const f = new FormData();
      if (labFile) f.append('lab', labFile);
      if (xrayFile) f.append('xray', xrayFile);
      if (text) f.append('symptoms', text);
      if (sex.value) f.append('sex', sex.value);
      if (age.value !== '') f.append('age', age.value);
      f.append('lang', getLang() === 'en' ? 'en' : 'zh');
      submit.disabled = true;
      try {
        const created = await api('report/v1/reports', { method: 'POST', form: f });
        if (xrayFile) films.set(created.id, URL.createObjectURL(xrayFile));
        go(`report/${created.id}`);
      } catch (err) {
        showAlert(box, errorText(err));
      } finally {
        submit.disabled = false;
      }
    },
  },
  field(t('lab_photo'), lab, t('lab_photo_hint')),
  field(t('xray_photo'), xray, t('xray_hint')),
  field(t('symptoms'), symptoms),
  h('div', { class: 'row' }, field(t('sex'), sex), field(t('age'), age, t('age_hint'))),
  box, submit);
  return h('div', { class: 'page' }, h('h1', {}, t('analysis_title')), card(null, form),
    h('p', {}, h('a', { href: '#/history' }, t('history_title'))),
    h('p', { class: 'muted small' }, t('disclaimer')));
}

// ---------------------------------------------------------------- pieces of the report
function nameOf(row) { return (getLang() === 'en' ? row.name_en : row.name) || row.name || row.code; }

function flagBadge(flag) {
  if (!flag) return h('span', { class: 'muted' }, '—');
  return h('span', { class: `flag flag-${flag}`, title: t(`flag_${flag}`) }, flag, h('span', { class: 'sr' }, ` ${t(`flag_${flag}`)}`));
}

/** The reference range as printed on the sheet (its text when the sheet printed one). */
export function rangeText(ref) {
  const r = ref || {};
  if (r.text) return r.text;
  if (r.low != null && r.high != null) return `${r.low}–${r.high}`;
  if (r.low != null) return `≥${r.low}`;
  if (r.high != null) return `≤${r.high}`;
  return '—';
}

function reasonText(reason) {
  if (!reason) return t('reason_upstream_error');
  const key = `reason_${reason.code}`;
  const known = t(key);
  if (known !== key) return known;
  return errorText({ code: reason.code, message: reason.message || reason.detail || reason.code });
}

function isCritical(row) { return row.critical || CRITICAL.has(row.flag); }

function labCards(lab, trends) {
  const rows = lab.indicators || [];
  const abnormal = rows.filter((i) => ABNORMAL.has(i.flag) || i.critical)
    .sort((a, b) => isCritical(b) - isCritical(a));
  const abn = card(t('abnormal_first'));
  // A photo the ocr service refused (too large, unreadable...) says so, and no readings is not "all normal".
  for (const p of (lab.photos || []).filter((ph) => ph.error)) {
    abn.append(h('p', { class: 'alert error' }, `${t('lab_photo_n')} ${p.position + 1}: ${errorText(p.error)}`));
  }
  if (!abnormal.length) abn.append(h('p', {}, t(rows.length ? 'all_normal' : 'no_indicators_read')));
  for (const i of abnormal) {
    abn.append(h('article', { class: `abn ${isCritical(i) ? 'critical' : ''}` },
      h('h3', {}, nameOf(i), ' ', flagBadge(i.flag)),
      h('p', { class: 'value' }, `${i.value_text ?? i.value} ${i.unit || ''}`, h('span', { class: 'muted' }, `  (${rangeText(i.reference)})`)),
      i.meaning ? h('p', {}, i.meaning) : null,
      i.advice ? h('p', { class: 'advice' }, i.advice) : null));
  }
  const byCode = new Map((trends || []).map((tr) => [tr.code, tr]));
  const ordered = [...abnormal, ...rows.filter((i) => !abnormal.includes(i))];
  const body = ordered.map((i) => {
    const tr = byCode.get(i.code);
    return h('tr', { class: abnormal.includes(i) ? 'abnormal' : '' },
      h('th', { scope: 'row' }, nameOf(i)),
      h('td', {}, i.value_text ?? i.value, tr ? sparkline(tr.points.map((p) => [p.date, p.value]), nameOf(i)) : null,
        tr && tr.meaningful ? h('span', { class: 'trend-mark', title: t(`dir_${tr.direction}`) }, tr.direction === 'rise' ? ' ↑' : ' ↓') : null),
      h('td', {}, i.unit || ''), h('td', {}, rangeText(i.reference)), h('td', {}, flagBadge(i.flag)));
  });
  const table = card(t('indicator_table'), h('div', { class: 'table-wrap' }, h('table', { class: 'indicators' },
    h('thead', {}, h('tr', {}, ['col_name', 'col_value', 'col_unit', 'col_range', 'col_flag'].map((k) => h('th', { scope: 'col' }, t(k))))),
    h('tbody', {}, body))));
  const out = [abn, table];
  if ((trends || []).length) {
    out.push(card(t('trends'), h('ul', { class: 'links trends' }, trends.map((tr) => h('li', {},
      h('span', {}, `${tr.name}: ${tr.points.map((p) => p.value).join(' → ')} ${tr.unit || ''}`,
        tr.meaningful ? h('strong', { class: 'trend-note' }, ` · ${t('trend_meaningful')}`) : null),
      sparkline(tr.points.map((p) => [p.date, p.value]), tr.name)))),
    h('a', { href: '#/history' }, t('history_title'))));
  }
  if ((lab.patterns || []).length) {
    out.push(card(t('patterns'), h('ul', {}, lab.patterns.map((p) => h('li', {}, h('strong', {}, p.name), p.explanation ? ` — ${p.explanation}` : '')))));
  }
  return out;
}

function xrayCard(reportId, xr) {
  const section = card(t('xray_section'));
  for (const img of xr.images || []) {
    if (img.error) { section.append(h('p', { class: 'alert error' }, errorText(img.error))); continue; }
    const film = films.get(reportId);
    const overlay = (img.overlays || []).find((o) => o.label === 'overlay');
    const heatmaps = (img.overlays || []).filter((o) => o.label.startsWith('heatmap:'));
    const base = h('img', { class: 'base', alt: t('xray_photo') });
    const maskLayer = overlay && film ? h('img', { class: 'layer mask', alt: '' }) : null;
    const heat = heatmaps.map(() => h('img', { class: 'layer heat', alt: '' }));
    // Without the film in memory (a report opened later), the overlay picture (film + masks + boxes) is the base.
    const load = async () => {
      try {
        base.src = film || (overlay ? await blobUrl(`report/v1/reports/${reportId}/images/${overlay.image_id}`) : '');
        if (maskLayer) maskLayer.src = await blobUrl(`report/v1/reports/${reportId}/images/${overlay.image_id}`);
        await Promise.all(heatmaps.map(async (o, k) => { heat[k].src = await blobUrl(`report/v1/reports/${reportId}/images/${o.image_id}`); }));
      } catch { /* the findings below still stand */ }
    };
    load();
    const size = img.image || {};
    const boxes = (size.width && size.height ? (img.detections || []) : []).filter((d) => Array.isArray(d.box)).map((d) => {
      const known = t(`box_${d.label}`);
      const name = known === `box_${d.label}` ? d.label : known;
      const el = h('div', { class: 'layer box', title: `${name} ${Math.round((d.score || 0) * 100)}%` }, h('span', {}, name));
      el.style.left = `${(100 * d.box[0]) / size.width}%`; el.style.top = `${(100 * d.box[1]) / size.height}%`;
      el.style.width = `${(100 * (d.box[2] - d.box[0])) / size.width}%`; el.style.height = `${(100 * (d.box[3] - d.box[1])) / size.height}%`;
      return el;
    });
    const toggle = (key, layers, on) => {
      const input = h('input', { type: 'checkbox', checked: on, onchange: () => layers.forEach((l) => { l.hidden = !input.checked; }) });
      layers.forEach((l) => { l.hidden = !on; });
      return h('label', { class: 'toggle' }, input, ' ', t(key), ` (${layers.length})`);
    };
    const masks = maskLayer ? [maskLayer] : [];
    // One heatmap at a time (several drawn together are unreadable): the chosen finding's, the likeliest first.
    const prob = new Map((img.findings || []).map((f) => [f.label, f]));
    const heatLabel = (o) => o.label.slice('heatmap:'.length);
    const order = heatmaps.map((o, k) => k).sort((a, b) => ((prob.get(heatLabel(heatmaps[b])) || {}).probability || 0)
      - ((prob.get(heatLabel(heatmaps[a])) || {}).probability || 0));
    const heatOn = h('input', { type: 'checkbox', checked: true });
    const heatPick = h('select', { class: 'small-select', 'aria-label': t('heatmap_of') }, order.map((k) => {
      const f = prob.get(heatLabel(heatmaps[k])) || {};
      return h('option', { value: String(k) }, `${f.name || heatLabel(heatmaps[k])} ${f.probability != null ? `${Math.round(f.probability * 100)}%` : ''}`);
    }));
    const showHeat = () => heat.forEach((l, k) => { l.hidden = !(heatOn.checked && String(k) === heatPick.value); });
    heatOn.addEventListener('change', showHeat);
    heatPick.addEventListener('change', showHeat);
    showHeat();
    const heatToggle = heat.length ? h('span', { class: 'toggle' },
      h('label', { class: 'toggle' }, heatOn, ' ', t('overlay_heatmap')), heatPick) : null;
    const positives = (img.findings || []).filter((f) => f.positive);
    const shown = positives.length ? positives : (img.findings || []).slice().sort((a, b) => b.probability - a.probability).slice(0, 3);
    section.append(
      h('div', { class: 'toggles', role: 'group', 'aria-label': t('overlays') },
        heatToggle, masks.length ? toggle('overlay_mask', masks, false) : null,
        toggle('overlay_boxes', boxes, true)),
      h('div', { class: 'xray-stage' }, base, masks, heat, boxes),
      h('h3', {}, t('findings')),
      h('ul', { class: 'findings' }, shown.map((f) => h('li', { class: f.positive ? 'positive' : '' },
        `${f.name || f.label}: ${t('prob')} ${Math.round(f.probability * 100)}%`, f.positive ? ` · ${t('positive')}` : ''))),
      img.cardiothoracic_ratio != null ? h('p', { class: 'small' }, `${t('ctr')}: ${Number(img.cardiothoracic_ratio).toFixed(2)}`) : null);
  }
  return section;
}

function symptomsCard(s) {
  return card(t('symptoms_section'),
    (s.red_flags || []).length ? h('div', { class: 'banner urgent', role: 'alert' }, h('strong', {}, t('red_flags')), ': ',
      s.red_flags.map((r) => `${r.name}${r.advice ? ` — ${r.advice}` : ''}`).join('；')) : null,
    s.advice ? h('p', {}, s.advice) : null,
    (s.conditions || []).length ? h('p', {}, h('strong', {}, t('conditions')), ': ', s.conditions.slice(0, 5).map((c) => c.name).join('、')) : null);
}

function unavailableCard(kind, sec, onRetry) {
  const box = alertBox();
  const btn = h('button', { type: 'button', class: 'small', onclick: async () => {
    btn.disabled = true;
    try { await onRetry(); } catch (err) { showAlert(box, errorText(err)); btn.disabled = false; }
  } }, t('retry'));
  return h('section', { class: 'card unavailable', dataset: { section: kind } },
    h('h2', {}, t(`section_${kind}`)),
    h('p', {}, `${t('section_unavailable')}: ${reasonText(sec.reason)}`), box, btn);
}

async function tipsCard() {
  try {
    const rec = await api(`tips/v1/recommendations?limit=3&lang=${getLang() === 'en' ? 'en' : 'zh-CN'}`);
    if (!rec.items.length) return null;
    return card(t('tips_section'), h('ul', { class: 'tips' }, rec.items.map((r) => h('li', { class: 'tip' },
      h('a', { href: `#/tips/${r.tip.id}` }, r.tip.title),
      h('p', { class: 'small reason' }, getLang() === 'en' ? r.reason.text_en : r.reason.text)))));
  } catch { return null; }
}

function downloads(id) {
  const box = alertBox();
  const get = (format, ext) => async (ev) => {
    const btn = ev.currentTarget;
    showAlert(box, t('preparing'), 'ok');
    btn.disabled = true;  // a PDF takes a few seconds to render on the server
    try {
      await download(`report/v1/reports/${id}?format=${format}`, `zhenxi-report-${id.slice(0, 8)}.${ext}`);
      showAlert(box, '');
    } catch (err) { showAlert(box, errorText(err)); } finally { btn.disabled = false; }
  };
  return h('div', { class: 'card actions downloads' },
    h('button', { type: 'button', class: 'primary', onclick: get('pdf', 'pdf') }, t('download_pdf')),
    h('button', { type: 'button', onclick: get('html', 'html') }, t('download_html')),
    h('button', { type: 'button', onclick: get('fhir', 'fhir.json') }, t('download_fhir')), box);
}

async function renderReport(out, rerender) {
  const body = out.report;
  const parts = [];
  if (body.urgent_banner) parts.push(h('div', { class: 'banner urgent', role: 'alert' }, h('strong', {}, body.urgent_banner.text)));
  parts.push(h('p', { class: 'muted small' }, `${t('report_date')}: ${new Date(body.report_date).toLocaleDateString()} · ${t(`urgency_${body.urgency}`)}`));
  if ((body.summary || []).length) parts.push(card(t('summary'), h('ul', { class: 'summary' }, body.summary.map((s) => h('li', {}, s.text)))));
  const retry = async () => {
    await api(`report/v1/reports/${out.id}:retry`, { method: 'POST' });
    rerender();
  };
  const secs = body.sections || {};
  for (const kind of KINDS) {
    const sec = secs[kind];
    if (!sec) continue;
    if (sec.status !== 'done') { parts.push(unavailableCard(kind, sec, retry)); continue; }
    if (kind === 'lab') parts.push(...labCards(sec, body.trends));
    if (kind === 'xray') parts.push(xrayCard(out.id, sec));
    if (kind === 'symptoms') parts.push(symptomsCard(sec));
  }
  if ((body.departments || []).length) {
    parts.push(card(t('departments'), h('ul', { class: 'links' }, body.departments.map((d) => h('li', {},
      h('span', {}, d.name), ' ', h('a', { href: `#/booking?department=${encodeURIComponent(d.id)}`, class: 'button small' }, t('book')))))));
  }
  const tips = await tipsCard();
  if (tips) parts.push(tips);
  parts.push(downloads(out.id));
  parts.push(h('p', { class: 'muted small disclaimer' }, (body.disclaimer && body.disclaimer.text) || t('disclaimer')));
  return parts;
}

function progressCard(out) {
  const states = new Map();
  const list = h('ol', { class: 'steps' }, out.sections.map((s) => {
    const state = h('span', { class: 'state' });
    const li = h('li', { dataset: { step: s.kind } }, h('span', {}, t(`step_${s.kind}`)), state);
    states.set(s.kind, [li, state]);
    return li;
  }));
  const set = (kind, status, reason) => {
    const hit = states.get(kind);
    if (!hit) return;
    hit[0].className = status;
    hit[1].textContent = t(`st_${status}`) + (status === 'unavailable' && reason ? ` · ${reasonText(reason)}` : '');
  };
  out.sections.forEach((s) => set(s.kind, s.status, s.reason));
  return { el: h('section', { class: 'card progress', 'aria-live': 'polite' }, h('h2', {}, t('progress')), list), set };
}

async function latestId() {
  const { items } = await api('report/v1/reports?limit=1');
  return items.length ? items[0].id : null;
}

export async function reportPage(route) {
  const page = h('div', { class: 'page report' }, h('h1', {}, t('report_title')));
  let id = route.args[0];
  if (!id) {
    try { id = await latestId(); } catch (err) { page.append(card(null, h('p', { class: 'alert error' }, errorText(err)))); return page; }
  }
  if (!id) {
    page.append(card(null, h('p', { class: 'muted' }, t('no_reports')), h('a', { href: '#/analysis', class: 'button primary' }, t('start_analysis'))));
    return page;
  }
  const content = h('div', { class: 'report-body' });
  page.append(content);
  const show = async () => {
    if (following) following.abort();
    following = null;
    let out;
    try { out = await api(`report/v1/reports/${id}`); } catch (err) {
      content.replaceChildren(card(null, h('p', { class: 'alert error', role: 'alert' }, errorText(err))));
      return;
    }
    if (out.status === 'completed' && out.report) {
      content.replaceChildren(...(await renderReport(out, show)));
      return;
    }
    if (out.status === 'failed') {
      content.replaceChildren(card(null, h('p', { class: 'alert error', role: 'alert' }, t('report_failed'))));
      return;
    }
    const progress = progressCard(out);
    content.replaceChildren(progress.el, h('p', { class: 'muted small' }, t('progress_hint')));
    const ctl = new AbortController();
    following = ctl;
    let finished = false;
    sse(`report/v1/reports/${id}/events`, (name, data) => {
      if (name === 'section') progress.set(data.section, data.status, data.reason);
      if (name === 'report' || name === 'deleted') { finished = true; ctl.abort(); }
    }, ctl.signal).catch(() => {}).finally(() => {
      // The stream ends when the report does (or after the server's limit): read the result, or follow again.
      if (following !== ctl && !finished) return;  // the user left the page
      following = null;
      if (location.hash.includes(id)) setTimeout(show, finished ? 0 : 1000);
    });
  };
  await show();
  return page;
}
