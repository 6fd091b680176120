// Consultation: a Q&A chat whose answers cite knowledge entries; an emergency answer is shown as an alert.
import { api } from '../api.js';
import { alertBox, field, h, showAlert } from '../dom.js';
import { errorText, t } from '../i18n.js';

let consultationId = null;  // the open conversation of this page session

function bubble(m) {
  const emergency = m.urgency === 'emergency';
  return h('li', { class: `msg ${m.role} ${emergency ? 'emergency' : ''}` },
    h('span', { class: 'who' }, m.role === 'user' ? t('you') : t('assistant')),
    emergency ? h('div', { class: 'banner urgent', role: 'alert' }, h('strong', {}, `${t('emergency_title')}：`), t('emergency_text')) : null,
    h('p', {}, m.content),
    m.departments && m.departments.length ? h('p', { class: 'small' }, m.departments.map((d) =>
      h('a', { href: `#/booking?department=${encodeURIComponent(d.id || '')}`, class: 'chip' }, d.name || d.id))) : null,
    m.sources && m.sources.length ? h('p', { class: 'sources small' }, `${t('sources')}: `, m.sources.map((s) => s.title || s.name || s.id).join('；')) : null);
}

export async function consultPage() {
  const list = h('ol', { class: 'chat', 'aria-live': 'polite' });
  if (consultationId) {
    try {
      const c = await api(`nlp/v1/consultations/${consultationId}`);
      c.messages.forEach((m) => list.append(bubble(m)));
    } catch { consultationId = null; }
  }
  const input = h('textarea', { name: 'question', rows: 2, maxlength: 2000, placeholder: t('ask_ph'), required: true });
  const box = alertBox();
  const send = h('button', { type: 'submit', class: 'primary' }, t('send'));
  const form = h('form', {
    class: 'stack chat-form',
    onsubmit: async (ev) => {
      ev.preventDefault();
      const text = input.value.trim();
      showAlert(box, '');
      if (!text) { showAlert(box, t('err.empty_text')); return; }
      send.disabled = true;
      try {
        if (!consultationId) {
          const c = await api('nlp/v1/consultations', { method: 'POST', json: { question: text } });
          consultationId = c.id;
          c.messages.forEach((m) => list.append(bubble(m)));
        } else {
          const ex = await api(`nlp/v1/consultations/${consultationId}/messages`, { method: 'POST', json: { content: text } });
          list.append(bubble(ex.question), bubble(ex.answer));
        }
        input.value = '';
        list.lastElementChild && list.lastElementChild.scrollIntoView({ block: 'nearest' });
      } catch (err) {
        showAlert(box, errorText(err));
      } finally {
        send.disabled = false;
        input.focus();
      }
    },
  }, field(t('ask'), input), box, send);
  input.addEventListener('keydown', (ev) => { if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) form.requestSubmit(); });
  return h('div', { class: 'page' }, h('h1', {}, t('consult_title')), list, form, h('p', { class: 'muted small' }, t('disclaimer')));
}
