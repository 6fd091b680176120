// Booking: search doctors, see live remaining slots (SSE), hold, confirm with name/ID number/phone, voucher with
// its QR code, cancel. All routes and fields are the booking service's (services/booking/app/api.py).
import { api, blobUrl, sseLoop } from '../api.js';
import { alertBox, card, field, h, showAlert } from '../dom.js';
import { errorText, getLang, t } from '../i18n.js';

const yuan = (cents) => `¥${(cents / 100).toFixed(2)}`;
let live = null;  // AbortController of the open SSE streams; closed when the page changes

function closeLive() { if (live) live.abort(); live = null; }
window.addEventListener('hashchange', closeLive);

async function unavailable(err) {
  return err.code === 'upstream_unavailable' || err.status === 404 || err.status === 503;
}

function sessionRow(s, onHold) {
  const remaining = h('strong', { class: 'remaining', dataset: { session: s.id } }, String(s.remaining));
  const button = h('button', { type: 'button', class: 'small primary', disabled: s.remaining <= 0 || s.status !== 'open',
    onclick: () => onHold(s, remaining) }, t('hold'));
  return h('li', { class: 'session' },
    h('span', {}, `${s.date} ${t(`period_${s.period}`)} ${s.start}–${s.end}`),
    h('span', {}, `${t('slots_left')} `, remaining, ` · ${yuan(s.fee_cents)}`), button);
}

// Live counts: each SessionState carries a version, so a late or stale event never overwrites a newer count.
const versions = new Map();

function applyState(sessionId, state) {
  if (!state || state.remaining == null) return;
  const known = versions.get(sessionId);
  if (state.version != null) {
    if (known != null && state.version < known) return;
    versions.set(sessionId, state.version);
  }
  document.querySelectorAll(`[data-session="${sessionId}"]`).forEach((el) => {
    el.textContent = String(state.remaining);
    const btn = el.closest('li') && el.closest('li').querySelector('button');
    if (btn) btn.disabled = state.remaining <= 0;
  });
}

function watch(sessions, signal) {
  // One stream per listed session, each updating its count as holds come and go. A browser opens at most six
  // connections to one HTTP/1.1 host, so only the first four are streamed; the others show the listed count.
  for (const s of sessions.slice(0, 4)) {
    sseLoop(`booking/v1/sessions/${s.id}/events`, (name, data) => {
      if (name === 'remaining') applyState(s.id, data);
    }, signal);
  }
}

function confirmCard(hold, session, go) {
  const name = h('input', { name: 'name', required: true, maxlength: 50, autocomplete: 'name' });
  const idn = h('input', { name: 'id_number', required: true, maxlength: 18, inputmode: 'text', autocomplete: 'off' });
  const phone = h('input', { name: 'phone', required: true, maxlength: 11, inputmode: 'tel', autocomplete: 'tel' });
  const box = alertBox();
  const key = crypto.randomUUID();  // retries of this confirmation are the same request
  const submit = h('button', { type: 'submit', class: 'primary' }, t('confirm'));
  return card(t('confirm_title'),
    h('p', {}, `${session.date} ${t(`period_${session.period}`)} · ${t('hold_expires')} ${new Date(hold.expires_at).toLocaleTimeString()}`),
    h('form', {
      class: 'stack',
      onsubmit: async (ev) => {
        ev.preventDefault();
        submit.disabled = true;
        showAlert(box, '');
        try {
          const b = await api('booking/v1/bookings', {
            method: 'POST', headers: { 'Idempotency-Key': key },
            json: { hold_id: hold.id, patient: { name: name.value.trim(), id_number: idn.value.trim(), phone: phone.value.trim() } },
          });
          go(`booking/voucher/${b.id}`);
        } catch (err) { showAlert(box, errorText(err)); } finally { submit.disabled = false; }
      },
    }, field(t('patient_name'), name), field(t('id_number'), idn), field(t('phone'), phone), box, submit));
}

async function voucherPage(id, go) {
  const page = h('div', { class: 'page' }, h('h1', {}, t('voucher')));
  const b = await api(`booking/v1/bookings/${id}`);
  const box = alertBox();
  const rows = [[t('hospital'), b.hospital.name], [t('department'), b.department.name],
    [t('doctor'), `${b.doctor.name} ${b.doctor.title}`], [t('sessions'), `${b.date} ${t(`period_${b.period}`)} ${b.window_start}–${b.window_end}`],
    [t('seq_no'), String(b.seq_no)], [t('patient_name'), b.patient.name], [t('id_number'), b.patient.id_number],
    [t('phone'), b.patient.phone], [t('fee'), yuan(b.fee_cents)], [t('status'), t(`status_${b.status}`)]];
  const details = h('dl', { class: 'kv' }, rows.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
  const c = card(`${b.hospital.name}`, details);
  if (b.status === 'confirmed') {
    const v = await api(`booking/v1/bookings/${id}/voucher`);
    c.append(h('p', {}, `${t('verify_code')}: `, h('strong', { class: 'code' }, v.verify_code)),
      h('img', { class: 'qr', alt: `${t('voucher')} QR`, src: await blobUrl(`booking/v1/bookings/${id}/voucher?format=png`) }),
      box, h('button', {
        type: 'button', class: 'secondary danger',
        onclick: async () => {
          try { await api(`booking/v1/bookings/${id}:cancel`, { method: 'POST' }); go(`booking/voucher/${id}?r=${Date.now()}`); } catch (err) { showAlert(box, errorText(err)); }
        },
      }, t('cancel_booking')));
  }
  page.append(c, h('p', {}, h('a', { href: '#/booking' }, t('back'))));
  return page;
}

export async function bookingPage(route, { go }) {
  closeLive();
  if (route.args[0] === 'voucher' && route.args[1]) return voucherPage(route.args[1], go);
  const page = h('div', { class: 'page' }, h('h1', {}, t('booking_title')));
  let departments;
  try { departments = await api('booking/v1/departments'); } catch (err) {
    if (await unavailable(err)) { page.append(card(null, h('p', {}, t('pending_service')))); return page; }
    throw err;
  }
  const q = h('input', { type: 'search', name: 'q', placeholder: t('search_ph'), maxlength: 100 });
  const dep = h('select', { name: 'department' }, h('option', { value: '' }, t('all_departments')),
    departments.map((d) => h('option', { value: d.id, selected: d.id === route.params.get('department') },
      (getLang() === 'en' && d.name_en) || d.name)));
  const avail = h('input', { type: 'checkbox', name: 'available' });
  const results = h('div', { 'aria-live': 'polite' });
  const box = alertBox();
  const detail = h('div');
  const confirmBox = h('div');

  const hold = async (s, remaining) => {
    showAlert(box, '');
    try {
      const held = await api('booking/v1/holds', { method: 'POST', json: { session_id: s.id } });
      remaining.textContent = String(held.remaining);
      api(`booking/v1/sessions/${s.id}/remaining`).then((state) => applyState(s.id, state)).catch(() => {});
      confirmBox.replaceChildren(confirmCard(held, s, go));
      confirmBox.querySelector('input').focus();
    } catch (err) { showAlert(box, errorText(err)); }
  };

  const showDoctor = async (d) => {
    closeLive();
    confirmBox.replaceChildren();
    live = new AbortController();
    const sessions = await api(`booking/v1/doctors/${d.id}/sessions`);
    detail.replaceChildren(card(`${d.name} · ${d.title}`,
      h('p', { class: 'muted' }, `${d.hospital.name} · ${d.department.name}`, d.bio ? ` · ${d.bio}` : ''),
      h('h3', {}, t('sessions'), h('span', { class: 'muted small' }, ` (${t('live_remaining')})`)),
      h('ul', { class: 'sessions' }, sessions.map((s) => sessionRow(s, hold)))));
    watch(sessions, live.signal);
    detail.scrollIntoView({ block: 'start' });
  };

  const search = async () => {
    showAlert(box, '');
    const params = new URLSearchParams();
    if (q.value.trim()) params.set('q', q.value.trim());
    if (dep.value) params.set('department', dep.value);
    if (avail.checked) params.set('available', 'true');
    try {
      const pageOut = await api(`booking/v1/doctors?${params}`);
      results.replaceChildren(pageOut.items.length ? h('ul', { class: 'doctors' }, pageOut.items.map((d) => h('li', {},
        h('div', {}, h('strong', {}, d.name), ` ${d.title}`, h('div', { class: 'muted small' }, `${d.hospital.name} · ${d.department.name}`)),
        h('div', {}, d.available_slots != null ? h('span', { class: 'small' }, `${t('slots_left')} ${d.available_slots} `) : null,
          h('button', { type: 'button', class: 'small', onclick: () => showDoctor(d) }, t('sessions'))))))
        : h('p', { class: 'muted' }, t('no_doctors')));
    } catch (err) { showAlert(box, errorText(err)); }
  };

  page.append(card(null, h('form', { class: 'stack', role: 'search', onsubmit: (ev) => { ev.preventDefault(); search(); } },
    field(t('search'), q), field(t('department'), dep),
    h('label', { class: 'toggle' }, avail, ' ', t('only_available')),
    h('button', { type: 'submit', class: 'primary' }, t('search')))), box, card(null, results), detail, confirmBox);

  const mine = card(t('my_bookings'));
  page.append(mine);
  try {
    const list = await api('booking/v1/bookings?limit=20');
    mine.append(list.items.length ? h('ul', { class: 'links' }, list.items.map((b) => h('li', {},
      h('span', {}, `${b.date} ${t(`period_${b.period}`)} · ${b.doctor.name} · ${t(`status_${b.status}`)}`),
      h('a', { href: `#/booking/voucher/${b.id}`, class: 'button small' }, t('view')))))
      : h('p', { class: 'muted' }, t('no_bookings')));
  } catch (err) { mine.append(h('p', { class: 'muted' }, errorText(err))); }
  await search();
  return page;
}
