// New analysis (lab photo + X-ray + symptoms, with live progress of each step) and the report page.
// The results of this browser session stay in memory only (never in storage: they are personal data).
import { api } from '../api.js';
import { alertBox, card, field, h, showAlert } from '../dom.js';
import { errorText, getLang, t } from '../i18n.js';
import { sparkline } from '../charts.js';

const ABNORMAL = new Set(['L', 'H', 'LL', 'HH', 'POS', 'ABN']);
const CRITICAL = new Set(['LL', 'HH']);
const runs = [];  // this session's analyses, newest last

export function latestAnalysis() { return runs[runs.length - 1] || null; }

export function urgentOf(run) {
  const inds = (run.lab && run.lab.indicators) || [];
  return inds.some((i) => i.critical || CRITICAL.has(i.flag))
    || (run.interpretation && run.interpretation.urgency === 'emergency')
    || (run.symptoms && run.symptoms.urgency === 'emergency');
}

const STEPS = ['ocr', 'xray', 'interpret', 'symptoms'];

export async function analysisPage(route, { go }) {
  const lab = h('input', { type: 'file', name: 'lab', accept: 'image/*,application/pdf', capture: 'environment' });
  const xray = h('input', { type: 'file', name: 'xray', accept: 'image/png,image/jpeg,.dcm,application/dicom', capture: 'environment' });
  const symptoms = h('textarea', { name: 'symptoms', rows: 3, maxlength: 2000, placeholder: t('symptoms_ph') });
  const box = alertBox();
  const status = {};
  const items = STEPS.map((s) => {
    status[s] = h('span', { class: 'state' }, t('st_pending'));
    return h('li', { dataset: { step: s } }, h('span', {}, t(`step_${s}`)), status[s]);
  });
  const progress = h('section', { class: 'card', hidden: true, 'aria-live': 'polite' },
    h('h2', {}, t('progress')), h('ol', { class: 'steps' }, items));
  const set = (step, state, note) => {
    status[step].textContent = t(`st_${state}`) + (note ? ` · ${note}` : '');
    status[step].parentElement.className = state;
  };
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
      submit.disabled = true;
      progress.hidden = false;
      const run = { at: Date.now(), errors: {} };
      STEPS.forEach((s) => set(s, 'pending'));
      const step = async (name, wanted, fn) => {
        if (!wanted) { set(name, 'skipped'); return null; }
        set(name, 'running');
        try { const out = await fn(); set(name, 'done'); return out; } catch (err) {
          run.errors[name] = errorText(err);
          set(name, 'failed', errorText(err));
          return null;
        }
      };
      const upload = (path, file) => { const f = new FormData(); f.append('file', file); return api(path, { method: 'POST', form: f }); };
      const [labOut, xrayOut, symOut] = await Promise.all([
        step('ocr', labFile, () => upload('ocr/v1/lab-reports:parse', labFile)),
        step('xray', xrayFile, () => upload('xray/v1/xray/analyses', xrayFile)),
        step('symptoms', text, () => api('nlp/v1/symptoms:analyze', { method: 'POST', json: { text, lang: getLang() } })),
      ]);
      run.lab = labOut;
      run.xray = xrayOut;
      run.symptoms = symOut;
      if (xrayFile && xrayOut) run.xrayUrl = URL.createObjectURL(xrayFile);
      const indicators = (labOut && labOut.indicators) || [];
      run.interpretation = await step('interpret', indicators.length, () => api('nlp/v1/interpretations', {
        method: 'POST', json: { indicators, header: { sex: labOut.header.sex, age: labOut.header.age }, lang: getLang() },
      }));
      submit.disabled = false;
      if (labOut || xrayOut || symOut) {
        runs.push(run);
        go('report');
      } else {
        showAlert(box, Object.values(run.errors)[0] || t('err.server_error'));
      }
    },
  },
  field(t('lab_photo'), lab, t('lab_photo_hint')),
  field(t('xray_photo'), xray, t('xray_hint')),
  field(t('symptoms'), symptoms),
  box, submit);
  return h('div', { class: 'page' }, h('h1', {}, t('analysis_title')), card(null, form), progress,
    h('p', { class: 'muted small' }, t('disclaimer')));
}

function flagBadge(flag) {
  if (!flag) return h('span', { class: 'muted' }, '—');
  return h('span', { class: `flag flag-${flag}`, title: t(`flag_${flag}`) }, flag, h('span', { class: 'sr' }, ` ${t(`flag_${flag}`)}`));
}

function rangeText(ind) {
  const r = ind.reference || {};
  if (r.text) return r.text;
  if (r.low != null && r.high != null) return `${r.low}–${r.high}`;
  if (r.low != null) return `≥${r.low}`;
  if (r.high != null) return `≤${r.high}`;
  return '—';
}

function history(code) {
  return runs.flatMap((r) => ((r.lab && r.lab.indicators) || [])
    .filter((i) => i.code === code && typeof i.value === 'number').map((i) => [r.at, i.value]));
}

function labSection(run) {
  const inds = run.lab.indicators;
  const explain = new Map(((run.interpretation && run.interpretation.indicators) || []).map((i) => [i.code, i]));
  const abnormal = inds.filter((i) => ABNORMAL.has(i.flag))
    .sort((a, b) => (CRITICAL.has(b.flag) || b.critical) - (CRITICAL.has(a.flag) || a.critical));
  const abn = card(t('abnormal_first'));
  if (!abnormal.length) abn.append(h('p', {}, t('all_normal')));
  for (const i of abnormal) {
    const ex = explain.get(i.code);
    const e = ex && ex.explanation;
    abn.append(h('article', { class: `abn ${CRITICAL.has(i.flag) || i.critical ? 'critical' : ''}` },
      h('h3', {}, getLang() === 'en' ? i.name_en : i.name, ' ', flagBadge(i.flag)),
      h('p', { class: 'value' }, `${i.value_text} ${i.unit_text || i.unit || ''}`, h('span', { class: 'muted' }, `  (${rangeText(i)})`)),
      e && (e.text || e.meaning) ? h('p', {}, e.text || e.meaning) : null,
      e && e.advice ? h('p', { class: 'advice' }, e.advice) : null));
  }
  const rows = [...abnormal, ...inds.filter((i) => !ABNORMAL.has(i.flag))].map((i) => h('tr', { class: ABNORMAL.has(i.flag) ? 'abnormal' : '' },
    h('th', { scope: 'row' }, getLang() === 'en' ? i.name_en : i.name),
    h('td', {}, i.value_text, ' ', sparkline(history(i.code), i.name)),
    h('td', {}, i.unit_text || i.unit || ''), h('td', {}, rangeText(i)), h('td', {}, flagBadge(i.flag))));
  const table = card(t('indicator_table'), h('div', { class: 'table-wrap' }, h('table', {},
    h('thead', {}, h('tr', {}, ['col_name', 'col_value', 'col_unit', 'col_range', 'col_flag'].map((k) => h('th', { scope: 'col' }, t(k))))),
    h('tbody', {}, rows))));
  return [abn, table];
}

function maskLayer(b64, color) {
  // Binary mask PNG → a coloured translucent layer drawn on a canvas (no inline styles needed).
  const canvas = h('canvas', { class: 'layer mask', 'aria-hidden': 'true' });
  const img = new Image();
  img.onload = () => {
    canvas.width = img.width; canvas.height = img.height;
    const ctx = canvas.getContext('2d');
    ctx.drawImage(img, 0, 0);
    const data = ctx.getImageData(0, 0, img.width, img.height);
    for (let p = 0; p < data.data.length; p += 4) {
      const on = data.data[p] > 127;
      data.data[p] = color[0]; data.data[p + 1] = color[1]; data.data[p + 2] = color[2]; data.data[p + 3] = on ? 90 : 0;
    }
    ctx.putImageData(data, 0, 0);
  };
  img.src = `data:image/png;base64,${b64}`;
  return canvas;
}

function xraySection(run) {
  const x = run.xray;
  const W = x.image.width; const H = x.image.height;
  const heat = x.heatmaps.map((m) => h('img', { class: 'layer heat', alt: '', src: `data:image/png;base64,${m.png_base64}` }));
  const colors = [[30, 144, 255], [255, 140, 0], [50, 205, 50]];
  const masks = Object.entries(x.masks || {}).map(([, b64], i) => maskLayer(b64, colors[i % colors.length]));
  const boxes = x.detections.map((d) => {
    const el = h('div', { class: 'layer box', title: `${d.label} ${(d.score * 100).toFixed(0)}%` }, h('span', {}, d.label));
    el.style.left = `${(100 * d.box[0]) / W}%`; el.style.top = `${(100 * d.box[1]) / H}%`;
    el.style.width = `${(100 * (d.box[2] - d.box[0])) / W}%`; el.style.height = `${(100 * (d.box[3] - d.box[1])) / H}%`;
    return el;
  });
  const stage = h('div', { class: 'xray-stage' },
    h('img', { class: 'base', src: run.xrayUrl, alt: t('xray_photo') }), masks, heat, boxes);
  const toggle = (key, layers, on) => {
    const input = h('input', { type: 'checkbox', checked: on, onchange: () => layers.forEach((l) => { l.hidden = !input.checked; }) });
    layers.forEach((l) => { l.hidden = !on; });
    return h('label', { class: 'toggle' }, input, ' ', t(key), ` (${layers.length})`);
  };
  const positives = x.findings.filter((f) => f.positive);
  return card(t('xray_section'),
    h('div', { class: 'toggles', role: 'group', 'aria-label': t('xray_section') },
      toggle('overlay_heatmap', heat, true), toggle('overlay_mask', masks, false), toggle('overlay_boxes', boxes, true)),
    stage,
    h('h3', {}, t('findings')),
    h('ul', { class: 'findings' }, (positives.length ? positives : x.findings.slice().sort((a, b) => b.probability - a.probability).slice(0, 3))
      .map((f) => h('li', { class: f.positive ? 'positive' : '' }, `${f.label}: ${t('prob')} ${(f.probability * 100).toFixed(0)}%`,
        f.positive ? ` · ${t('positive')}` : ''))),
    h('p', { class: 'muted small' }, getLang() === 'en' ? x.disclaimer.en : x.disclaimer.zh));
}

function departmentsCard(run) {
  const deps = new Map();
  for (const d of [...((run.interpretation && run.interpretation.departments) || []), ...((run.symptoms && run.symptoms.departments) || [])]) {
    if (!deps.has(d.id)) deps.set(d.id, d);
  }
  if (!deps.size) return null;
  return card(t('departments'), h('ul', { class: 'links' }, [...deps.values()].map((d) => h('li', {},
    h('span', {}, d.name), ' ', h('a', { href: `#/booking?department=${encodeURIComponent(d.id)}`, class: 'button small' }, t('book'))))));
}

function symptomsCard(s) {
  return card(t('symptoms_section'),
    s.red_flags.length ? h('div', { class: 'banner urgent', role: 'alert' }, h('strong', {}, t('red_flags')), ': ',
      s.red_flags.map((r) => `${r.name} — ${r.advice}`).join('；')) : null,
    h('p', {}, s.advice),
    s.conditions.length ? h('p', {}, h('strong', {}, t('conditions')), ': ', s.conditions.slice(0, 5).map((c) => c.name).join('、')) : null);
}

export async function reportPage() {
  const run = latestAnalysis();
  const page = h('div', { class: 'page report' }, h('h1', {}, t('report_title')));
  if (!run) {
    page.append(card(null, h('p', { class: 'muted' }, t('no_reports')), h('a', { href: '#/analysis', class: 'button primary' }, t('start_analysis'))));
    return page;
  }
  if (urgentOf(run)) page.append(h('div', { class: 'banner urgent', role: 'alert' }, h('strong', {}, t('urgent_banner'))));
  const errs = Object.entries(run.errors);
  if (errs.length) page.append(h('p', { class: 'alert error', role: 'alert' }, errs.map(([k, v]) => `${t(`step_${k}`)}: ${v}`).join('；')));
  if (run.interpretation) page.append(card(t('summary'), h('p', {}, run.interpretation.summary)));
  if (run.lab && run.lab.indicators.length) page.append(...labSection(run));
  if (run.xray) page.append(xraySection(run));
  if (run.symptoms) page.append(symptomsCard(run.symptoms));
  const deps = departmentsCard(run);
  if (deps) page.append(deps);
  const tips = (run.interpretation && run.interpretation.patterns) || [];
  if (tips.length) page.append(card(t('tips_section'), h('ul', {}, tips.map((p) => h('li', {}, h('strong', {}, p.name), ' — ', p.advice)))));
  page.append(h('p', { class: 'actions' }, h('button', { type: 'button', class: 'secondary', onclick: () => window.print() }, t('print_pdf'))));
  page.append(h('p', { class: 'muted small' }, (run.interpretation && run.interpretation.disclaimer) || t('disclaimer')));
  return page;
}
