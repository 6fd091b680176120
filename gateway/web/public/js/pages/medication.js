// Medication: plans with the full schedule options (create, edit, stop), today's doses (taken / skipped, with
// missed-dose advice), the adherence chart, refill warnings, and reminders arriving live (SSE) while the page is
// open. Routes and fields are the reminders service's (services/reminders/app/api.py, schemas.py).
import { api, sseLoop } from '../api.js';
import { alertBox, card, field, h, showAlert } from '../dom.js';
import { errorText, getLang, t } from '../i18n.js';
import { adherenceChart } from '../charts.js';

const ROUTES = ['oral', 'inhaled', 'injection', 'topical', 'sublingual', 'transdermal', 'other'];
const KINDS = ['times', 'meals', 'interval', 'once', 'prn'];
const WHEN = ['ACM', 'PCM', 'ACD', 'PCD', 'ACV', 'PCV', 'CM', 'CD', 'CV', 'HS', 'WAKE'];
const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
let stream = null;

function stopStream() { if (stream) stream.abort(); stream = null; }
window.addEventListener('hashchange', stopStream);

// The API's field names → this form's labels, so an error names the field the patient sees, not "body.end_date".
const FIELD_LABELS = { times_of_day: 'sched_times', every_hours: 'sched_every', min_interval_hours: 'sched_min_interval',
  offset_min: 'sched_offset', anchor: 'sched_anchor', at: 'sched_at' };

function planErrorText(err) {
  const first = err.details && err.details.errors && err.details.errors[0];
  const typed = first && first.type ? t(`err.${first.type}`) : null;  // e.g. end_before_start from the schema
  const text = typed && typed !== `err.${first.type}` ? typed : errorText(err);
  const path = [].concat((err.details && err.details.field) || (first && first.loc) || []);
  const name = path.filter((p) => typeof p === 'string' && p !== 'body' && !/^\d+$/.test(p)).pop();
  const key = name && (FIELD_LABELS[name] || name);
  const label = key && t(key) !== key ? t(key).replace(/\s*[（(][^）)]*[）)]$/, '') : null;  // without "（可选）"
  return label ? `${text}（${label}）` : text;
}

const today = () => new Date().toLocaleDateString('en-CA');  // YYYY-MM-DD in local time
const hm = (iso) => new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });

function checkboxes(name, values, labelKey, checked = []) {
  return h('fieldset', { class: 'checks' }, h('legend', {}, t(labelKey)), values.map((v) => h('label', { class: 'toggle' },
    h('input', { type: 'checkbox', name, value: v, checked: checked.includes(v) }), ' ', t(`${name}_${v}`))));
}

function planForm(existing, onSaved) {
  const p = existing || {};
  const s = p.schedule || { kind: 'times', times_of_day: ['08:00'] };
  const input = (name, attrs = {}) => h('input', { name, ...attrs });
  const drug = input('drug', { required: true, maxlength: 200, value: p.drug ? p.drug.text : '' });
  const dose = input('dose', { type: 'number', required: true, min: 0, step: 'any', value: p.dose ?? '' });
  const unit = input('unit', { required: true, maxlength: 32, value: p.unit || '片' });
  const route = h('select', { name: 'route' }, ROUTES.map((r) => h('option', { value: r, selected: (p.route || 'oral') === r }, t(`route_${r}`))));
  const notes = h('textarea', { name: 'notes', rows: 2, maxlength: 500 }, p.notes || '');
  const start = input('start_date', { type: 'date', required: true, value: p.start_date || today() });
  const end = input('end_date', { type: 'date', value: p.end_date || '' });
  const total = input('total_count', { type: 'number', min: 1, value: p.total_count ?? '' });
  const kind = h('select', { name: 'kind' }, KINDS.map((k) => h('option', { value: k, selected: s.kind === k }, t(`kind_${k}`))));
  const times = input('times_of_day', { value: (s.times_of_day || ['08:00']).join(', '), pattern: '^\\s*\\d{2}:\\d{2}(\\s*,\\s*\\d{2}:\\d{2})*\\s*$' });
  const every = input('every_hours', { type: 'number', min: 1, step: 'any', value: s.every_hours ?? 8 });
  const anchor = input('anchor', { type: 'time', value: s.anchor || '08:00' });
  const when = checkboxes('when', WHEN, 'sched_when', s.when || ['PCM']);
  const offset = input('offset_min', { type: 'number', min: 0, max: 240, value: s.offset_min ?? 0 });
  const at = input('at', { type: 'datetime-local', value: s.at ? s.at.slice(0, 16) : '' });
  const minInterval = input('min_interval_hours', { type: 'number', min: 0.5, step: 'any', value: s.min_interval_hours ?? 6 });
  const dow = checkboxes('dow', DAYS, 'sched_days', s.days_of_week || []);
  const cycleOn = input('cycle_on', { type: 'number', min: 1, max: 365, value: s.cycle ? s.cycle.on_days : '' });
  const cycleOff = input('cycle_off', { type: 'number', min: 1, max: 365, value: s.cycle ? s.cycle.off_days : '' });
  const stock = input('stock', { type: 'number', min: 0, step: 'any', value: p.stock ?? '' });
  const refillAhead = input('refill_days_ahead', { type: 'number', min: 0, max: 90, value: p.refill_days_ahead ?? '' });

  const groups = {
    times: field(t('sched_times'), times, t('sched_times_hint')),
    meals: h('div', { class: 'stack' }, when, field(t('sched_offset'), offset)),
    interval: h('div', { class: 'stack' }, field(t('sched_every'), every), field(t('sched_anchor'), anchor)),
    once: field(t('sched_at'), at),
    prn: field(t('sched_min_interval'), minInterval),
  };
  const filters = h('div', { class: 'stack' }, dow, h('div', { class: 'row' }, field(t('cycle_on'), cycleOn), field(t('cycle_off'), cycleOff)));
  const sync = () => {
    Object.entries(groups).forEach(([k, el]) => { el.hidden = k !== kind.value; });
    filters.hidden = !['times', 'meals', 'interval'].includes(kind.value);
  };
  kind.addEventListener('change', sync);
  sync();

  const box = alertBox();
  const submit = h('button', { type: 'submit', class: 'primary' }, existing ? t('save') : t('add_plan'));
  const num = (el) => (el.value === '' ? null : Number(el.value));
  const form = h('form', {
    class: 'stack plan-form',
    onsubmit: async (ev) => {
      ev.preventDefault();
      showAlert(box, '');
      const schedule = { kind: kind.value };
      if (kind.value === 'times') schedule.times_of_day = times.value.split(/[,，\s]+/).filter(Boolean);
      if (kind.value === 'meals') {
        schedule.when = [...when.querySelectorAll('input:checked')].map((i) => i.value);
        schedule.offset_min = num(offset) || 0;
      }
      if (kind.value === 'interval') { schedule.every_hours = num(every); schedule.anchor = anchor.value || null; }
      if (kind.value === 'once') schedule.at = at.value ? `${at.value}:00` : null;
      if (kind.value === 'prn') schedule.min_interval_hours = num(minInterval);
      if (!filters.hidden) {
        const days = [...dow.querySelectorAll('input:checked')].map((i) => i.value);
        if (days.length) schedule.days_of_week = days;
        if (cycleOn.value && cycleOff.value) schedule.cycle = { on_days: num(cycleOn), off_days: num(cycleOff) };
      }
      const body = {
        drug: drug.value.trim(), dose: num(dose), unit: unit.value.trim(), route: route.value,
        notes: notes.value.trim() || null, start_date: start.value, end_date: end.value || null,
        total_count: num(total), schedule, stock: num(stock), refill_days_ahead: num(refillAhead),
      };
      if (existing && body.start_date === p.start_date) delete body.start_date;
      if (!existing) body.timezone = Intl.DateTimeFormat().resolvedOptions().timeZone || 'Asia/Shanghai';
      submit.disabled = true;
      try {
        if (existing) await api(`reminders/v1/plans/${existing.id}`, { method: 'PATCH', json: body, headers: { 'If-Match': `"${existing.version}"` } });
        else await api('reminders/v1/plans', { method: 'POST', json: body });
        onSaved();
      } catch (err) {
        showAlert(box, planErrorText(err));
      } finally { submit.disabled = false; }
    },
  },
  field(t('drug'), drug, t('drug_hint')),
  h('div', { class: 'row' }, field(t('dose'), dose), field(t('unit'), unit), field(t('route'), route)),
  field(t('sched_kind'), kind), ...Object.values(groups), filters,
  h('div', { class: 'row' }, field(t('start_date'), start), field(t('end_date'), end), field(t('total_count'), total)),
  h('div', { class: 'row' }, field(t('stock'), stock), field(t('refill_days_ahead'), refillAhead)),
  field(t('notes'), notes), box, submit);
  return form;
}

function doseItem(o, plan, refresh) {
  const box = alertBox();
  const open = ['scheduled', 'due', 'missed'].includes(o.state);
  const record = async (state) => {
    try { await api(`reminders/v1/occurrences/${o.id}:record`, { method: 'POST', json: { state } }); refresh(); } catch (err) { showAlert(box, errorText(err)); }
  };
  const advice = h('p', { class: 'advice', hidden: true });
  const late = open && new Date(o.due_at) < new Date();
  const item = h('li', { class: `dose state-${o.state}` },
    h('div', {}, h('strong', {}, hm(o.due_at)), ' ', plan ? `${plan.drug.name || plan.drug.text} ${plan.dose}${plan.unit}` : o.kind,
      h('span', { class: `badge ${o.state}` }, t(`state_${o.state}`))),
    open ? h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'small primary', onclick: () => record('taken') }, t('mark_taken')),
      h('button', { type: 'button', class: 'small', onclick: () => record('skipped') }, t('mark_skipped')),
      late ? h('button', {
        type: 'button', class: 'small',
        onclick: async () => {
          try {
            const a = await api(`reminders/v1/occurrences/${o.id}/advice`);
            advice.textContent = getLang() === 'en' ? a.advice_en : a.advice;
            advice.hidden = false;
          } catch (err) { showAlert(box, errorText(err)); }
        },
      }, t('missed_advice')) : null) : null,
    advice, box);
  return item;
}

export async function medicationPage(route, { go }) {
  stopStream();
  const page = h('div', { class: 'page' }, h('h1', {}, t('nav_medication')));
  let plans;
  try { plans = (await api('reminders/v1/plans')).plans; } catch (err) {
    if (err.code === 'upstream_unavailable' || err.status === 404) { page.append(card(null, h('p', {}, t('pending_service')))); return page; }
    throw err;
  }
  const refresh = () => go(`medication?r=${Date.now()}`);
  const byId = new Map(plans.map((p) => [p.id, p]));

  const liveList = h('ol', { class: 'live', 'aria-live': 'assertive' });
  page.append(card(t('live_reminders'), liveList, h('p', { class: 'muted small' }, t('live_hint'))));
  stream = new AbortController();
  sseLoop('reminders/v1/stream?max_duration_s=55', (name, d) => {
    if (name !== 'reminder') return;
    liveList.prepend(h('li', { class: 'banner reminder', role: 'status' },
      `⏰ ${hm(d.due_at)} ${d.drug || ''} ${d.dose ?? ''}${d.unit || ''}`));
  }, stream.signal, { retryMs: 3000 });

  const refills = plans.filter((p) => p.active && p.refill && p.refill.remind_on && p.refill.remind_on <= today());
  for (const p of refills) {
    page.append(h('div', { class: 'banner warn', role: 'status' },
      `${t('refill_warning')}: ${p.drug.name || p.drug.text} — ${t('days_left')} ${Math.floor(p.refill.days_left)}`));
  }

  const start = new Date(); start.setHours(0, 0, 0, 0);
  const end = new Date(start); end.setDate(end.getDate() + 1);
  const dosesCard = card(t('today_doses'));
  page.append(dosesCard);
  try {
    const occ = (await api(`reminders/v1/occurrences?from=${encodeURIComponent(start.toISOString())}&to=${encodeURIComponent(end.toISOString())}`)).occurrences;
    dosesCard.append(occ.length ? h('ul', { class: 'doses' }, occ.map((o) => doseItem(o, byId.get(o.plan_id), refresh)))
      : h('p', { class: 'muted' }, t('no_doses')));
  } catch (err) { dosesCard.append(h('p', { class: 'alert error' }, errorText(err))); }

  const chartCard = card(t('adherence'));
  page.append(chartCard);
  try {
    const a = await api('reminders/v1/adherence?days=30');
    chartCard.append(h('p', {}, `${t('proportion_taken')}: ${a.proportion_taken == null ? '—' : `${Math.round(a.proportion_taken * 100)}%`}`,
      ` · ${t('streak')}: ${a.streak_days.current}`), adherenceChart(a));
  } catch (err) { chartCard.append(h('p', { class: 'muted' }, errorText(err))); }

  const editing = route.params.get('edit');
  const plansCard = card(t('my_plans'), plans.length ? h('ul', { class: 'links' }, plans.map((p) => h('li', {},
    h('span', {}, `${p.drug.name || p.drug.text} ${p.dose}${p.unit} · ${t(`kind_${p.schedule.kind}`)}${p.active ? '' : ` · ${t('stopped')}`}`),
    h('span', {}, h('a', { href: `#/medication?edit=${p.id}`, class: 'button small' }, t('edit')), ' ',
      p.active ? h('button', { type: 'button', class: 'small danger', onclick: async () => {
        await api(`reminders/v1/plans/${p.id}`, { method: 'PATCH', json: { active: false }, headers: { 'If-Match': `"${p.version}"` } }).catch(() => null);
        refresh();
      } }, t('stop')) : null)))) : h('p', { class: 'muted' }, t('no_plans')));
  page.append(plansCard);
  const editPlan = editing ? byId.get(editing) : null;
  page.append(card(editPlan ? t('edit_plan') : t('new_plan'), planForm(editPlan, () => go(`medication?r=${Date.now()}`))));
  return page;
}
