// Admin: hospitals, doctors and a week of sessions in one go; booking statistics as a chart; the audit log.
// Routes and fields are the booking service's admin API (/api/booking/v1/admin/...).
import { api } from '../api.js';
import { alertBox, card, field, h, showAlert } from '../dom.js';
import { errorText, getLang, t } from '../i18n.js';
import { barChart } from '../charts.js';

const TITLES = ['主任医师', '副主任医师', '主治医师', '住院医师'];
const PERIODS = ['morning', 'afternoon', 'evening'];

function nextMonday() {
  const d = new Date();
  d.setDate(d.getDate() + ((8 - d.getDay()) % 7 || 7));
  return d.toLocaleDateString('en-CA');
}

function form(submitLabel, fields, onSubmit) {
  const box = alertBox();
  const button = h('button', { type: 'submit', class: 'primary' }, submitLabel);
  return h('form', {
    class: 'stack',
    onsubmit: async (ev) => {
      ev.preventDefault();
      showAlert(box, '');
      button.disabled = true;
      try { showAlert(box, await onSubmit(), 'ok'); } catch (err) { showAlert(box, errorText(err)); } finally { button.disabled = false; }
    },
  }, fields, box, button);
}

export async function bookingAdmin() {
  let departments;
  let hospitals;
  try {
    [departments, hospitals] = await Promise.all([api('booking/v1/departments'), api('booking/v1/hospitals')]);
  } catch (err) {
    return [card(t('admin_booking'), h('p', { class: 'muted' }, t('pending_service')))];
  }
  const hospitalOptions = () => hospitals.map((x) => h('option', { value: x.id }, `${x.name}（${x.city}）`));

  const hName = h('input', { name: 'name', required: true, maxlength: 100 });
  const hCity = h('input', { name: 'city', required: true, maxlength: 50 });
  const hAddress = h('input', { name: 'address', maxlength: 200 });
  const hospitalCard = card(t('new_hospital'), form(t('create'), [field(t('hospital'), hName), field(t('city'), hCity), field(t('address'), hAddress)], async () => {
    const x = await api('booking/v1/admin/hospitals', { method: 'POST', json: { name: hName.value.trim(), city: hCity.value.trim(), address: hAddress.value.trim() } });
    hospitals.push(x);
    [dHospital].forEach((sel) => sel.replaceChildren(...hospitalOptions()));
    return `${t('saved')}: ${x.name}`;
  }));

  const dHospital = h('select', { name: 'hospital_id' }, hospitalOptions());
  const dDept = h('select', { name: 'department_id' }, departments.map((d) => h('option', { value: d.id }, (getLang() === 'en' && d.name_en) || d.name)));
  const dName = h('input', { name: 'doctor_name', required: true, maxlength: 50 });
  const dTitle = h('select', { name: 'title' }, TITLES.map((x) => h('option', { value: x }, x)));
  const dSpecialties = h('input', { name: 'specialties', maxlength: 200 });
  const doctorCard = card(t('new_doctor'), form(t('create'), [field(t('hospital'), dHospital), field(t('department'), dDept),
    field(t('doctor'), dName), field(t('doctor_title'), dTitle), field(t('specialties'), dSpecialties, t('comma_separated'))], async () => {
    const d = await api('booking/v1/admin/doctors', { method: 'POST', json: {
      hospital_id: dHospital.value, department_id: dDept.value, name: dName.value.trim(), title: dTitle.value,
      specialties: dSpecialties.value.split(/[,，]/).map((s) => s.trim()).filter(Boolean),
    } });
    wDoctor.append(h('option', { value: d.id, selected: true }, `${d.name} · ${d.department.name} · ${d.hospital.name}`));
    return `${t('saved')}: ${d.name}`;
  }));

  const doctors = (await api('booking/v1/doctors?limit=100')).items;
  const wDoctor = h('select', { name: 'doctor_id', required: true }, doctors.map((d) => h('option', { value: d.id }, `${d.name} · ${d.department.name} · ${d.hospital.name}`)));
  const wStart = h('input', { type: 'date', name: 'week_start', required: true, value: nextMonday() });
  const wCapacity = h('input', { type: 'number', name: 'capacity', min: 1, max: 500, value: 20, required: true });
  const wFee = h('input', { type: 'number', name: 'fee', min: 0, step: '0.5', value: 25, required: true });
  const dayNames = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
  const grid = h('table', { class: 'slot-grid' },
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, ''), PERIODS.map((p) => h('th', { scope: 'col' }, t(`period_${p}`))))),
    h('tbody', {}, dayNames.map((d, i) => h('tr', {}, h('th', { scope: 'row' }, t(`dow_${d}`)),
      PERIODS.map((p) => h('td', {}, h('input', {
        type: 'checkbox', name: 'slot', value: `${i}:${p}`, checked: i < 5 && p === 'morning',
        'aria-label': `${t(`dow_${d}`)} ${t(`period_${p}`)}`,
      })))))));
  const weekCard = card(t('bulk_week'), form(t('create_week'), [field(t('doctor'), wDoctor), field(t('week_start'), wStart, t('week_start_hint')),
    h('fieldset', { class: 'checks' }, h('legend', {}, t('slots')), grid),
    h('div', { class: 'row' }, field(t('capacity'), wCapacity), field(t('fee'), wFee))], async () => {
    const slots = [...grid.querySelectorAll('input:checked')].map((c) => { const [weekday, period] = c.value.split(':'); return { weekday: Number(weekday), period }; });
    const out = await api('booking/v1/admin/sessions:bulk-week', { method: 'POST', json: {
      doctor_id: wDoctor.value, week_start: wStart.value, slots, capacity: Number(wCapacity.value), fee: Number(wFee.value),
    } });
    return `${t('created_sessions')}: ${out.created.length}${out.skipped ? ` · ${t('skipped')}: ${out.skipped}` : ''}`;
  }));

  const statsCard = card(t('stats_bookings'));
  const from = new Date(); from.setDate(from.getDate() - 30);
  const to2 = new Date(); to2.setDate(to2.getDate() + 30);
  try {
    const s = await api(`booking/v1/admin/stats?date_from=${from.toLocaleDateString('en-CA')}&date_to=${to2.toLocaleDateString('en-CA')}`);
    const perDept = new Map();
    for (const r of s.per_department_day) {
      const v = perDept.get(r.department_id) || [0, 0];
      v[0] += r.bookings; v[1] += r.cancelled; perDept.set(r.department_id, v);
    }
    const names = new Map(departments.map((d) => [d.id, (getLang() === 'en' && d.name_en) || d.name]));
    statsCard.append(h('p', {}, `${t('total')}: ${s.total} · ${t('cancelled')}: ${s.cancelled} (${Math.round(s.cancellation_rate * 100)}%) · ${t('no_show')}: ${s.no_show}`),
      barChart([...perDept.keys()].map((k) => names.get(k) || k), [[t('bookings'), [...perDept.values()].map((v) => v[0])], [t('cancelled'), [...perDept.values()].map((v) => v[1])]]));
  } catch (err) { statsCard.append(h('p', { class: 'muted' }, errorText(err))); }

  const auditCard = card(t('audit_log'));
  try {
    const rows = await api('booking/v1/admin/audit?limit=50');
    auditCard.append(rows.length ? h('div', { class: 'table-wrap' }, h('table', {}, h('thead', {}, h('tr', {}, [t('time'), t('action'), t('target')].map((x) => h('th', { scope: 'col' }, x)))),
      h('tbody', {}, rows.map((r) => h('tr', {}, h('td', {}, new Date(r.created_at).toLocaleString()), h('td', {}, r.action), h('td', {}, Object.entries(r.target).map(([k, v]) => `${k}=${v}`).join(' ')))))))
      : h('p', { class: 'muted' }, t('no_history')));
  } catch (err) { auditCard.append(h('p', { class: 'muted' }, errorText(err))); }
  return [hospitalCard, doctorCard, weekCard, statsCard, auditCard];
}
