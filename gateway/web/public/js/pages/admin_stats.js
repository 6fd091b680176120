// Admin statistics as charts: bookings per day (booking /admin/stats), reports per day with the share holding a
// critical value (report /admin/stats) and dose adherence per day (reminders /admin/adherence). Each card stands on
// its own: a service that is down leaves its card with the reason and the others drawn.
import { api } from '../api.js';
import { card, h } from '../dom.js';
import { errorText, t } from '../i18n.js';
import { dailyChart } from '../charts.js';

const iso = (d) => d.toLocaleDateString('en-CA');
const pct = (x) => (x == null ? '—' : `${Math.round(x * 100)}%`);

function range(days) {
  const to = new Date();
  const from = new Date(); from.setDate(from.getDate() - (days - 1));
  return { from: iso(from), to: iso(to) };
}

async function bookingsCard({ from, to }) {
  const c = card(t('stats_bookings_daily'));
  try {
    const s = await api(`booking/v1/admin/stats?date_from=${from}&date_to=${to}`);
    const perDay = new Map();
    for (const r of s.per_department_day) {
      const v = perDay.get(r.date) || [0, 0];
      v[0] += r.bookings; v[1] += r.cancelled; perDay.set(r.date, v);
    }
    const days = [];
    for (let d = new Date(`${from}T12:00:00`); iso(d) <= to; d.setDate(d.getDate() + 1)) days.push(iso(d));
    c.append(h('p', { class: 'stat-line' }, `${t('total')}: ${s.total} · ${t('cancelled')}: ${s.cancelled} (${pct(s.cancellation_rate)}) · ${t('no_show')}: ${s.no_show} (${pct(s.no_show_rate)})`),
      dailyChart(days, [[t('bookings'), days.map((d) => (perDay.get(d) || [0, 0])[0]), { bars: true }],
        [t('cancelled'), days.map((d) => (perDay.get(d) || [0, 0])[1])]]));
  } catch (err) { c.append(h('p', { class: 'muted' }, errorText(err))); }
  return c;
}

async function reportsCard({ from, to }) {
  const c = card(t('stats_reports'));
  try {
    const s = await api(`report/v1/admin/stats?date_from=${from}&date_to=${to}`);
    const days = s.per_day.map((d) => d.date);
    c.append(h('p', { class: 'stat-line' }, `${t('total')}: ${s.total} · ${t('rstatus_completed')}: ${s.completed} · ${t('with_critical')}: ${s.critical} (${pct(s.critical_share)})`),
      dailyChart(days, [[t('reports'), s.per_day.map((d) => d.reports), { bars: true }],
        [t('with_critical'), s.per_day.map((d) => d.critical)]]));
  } catch (err) { c.append(h('p', { class: 'muted' }, errorText(err))); }
  return c;
}

async function adherenceCard({ from, to }) {
  const c = card(t('stats_adherence'));
  try {
    const s = await api(`reminders/v1/admin/adherence?date_from=${from}&date_to=${to}`);
    c.append(h('p', { class: 'stat-line' }, `${t('patients')}: ${s.patients} · ${t('proportion_taken')}: ${pct(s.proportion_taken)}`),
      dailyChart(s.per_day.map((d) => d.date), [[t('proportion_taken'), s.per_day.map((d) => d.proportion_taken)]], { percent: true }));
  } catch (err) { c.append(h('p', { class: 'muted' }, errorText(err))); }
  return c;
}

export async function statsAdmin() {
  const r = range(30);
  // Bookings count by the visit's date, and visits are booked ahead: the past 30 days and the next 14.
  const ahead = new Date(); ahead.setDate(ahead.getDate() + 14);
  return Promise.all([bookingsCard({ from: r.from, to: iso(ahead) }), reportsCard(r), adherenceCard(r)]);
}
