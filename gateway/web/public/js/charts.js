// Charts through uPlot (installed by npm, served by the gateway under /vendor/uplot).
import uPlot from '/vendor/uplot/uPlot.esm.js';
import { h } from './dom.js';
import { t } from './i18n.js';

const COLORS = ['#0b6e4f', '#b3261e', '#1f5fa8', '#8a5a00', '#6b3fa0', '#00707a', '#5b5b5b'];

/** Run `draw` once `wrap` is in the document (pages are built before they are attached, and a chart sized
 *  while detached would take the window's width and overflow its card); gives up after ~10 s of frames. */
function whenAttached(wrap, draw, tries = 600) {
  requestAnimationFrame(() => {
    if (wrap.isConnected) draw();
    else if (tries > 0) whenAttached(wrap, draw, tries - 1);
  });
}

// Charts follow the window's width (a phone turned sideways, a resized desktop window); detached ones are dropped.
const live = new Set();
let resizeTimer = null;
window.addEventListener('resize', () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => {
    for (const entry of live) {
      const [u, wrap, fixed] = entry;
      if (!wrap.isConnected) { live.delete(entry); u.destroy(); continue; }
      if (!fixed) u.setSize({ width: width(wrap), height: u.height });
    }
  }, 150);
});

/** A uPlot chart in `wrap`, resized with the window unless its width is fixed. */
function plot(wrap, opts, data, fixed = false) {
  const u = new uPlot(opts, data, wrap);
  live.add([u, wrap, fixed]);
  return u;
}

function width(el) { return Math.max(260, Math.min(900, (el.clientWidth || document.body.clientWidth) - 32)); }

/** Positive-finding probabilities across the user's X-ray analyses, oldest first. */
export function trendChart(items) {
  const rows = [...items].sort((a, b) => new Date(a.created_at) - new Date(b.created_at));
  const labels = [...new Set(rows.flatMap((r) => r.findings.filter((f) => f.positive).map((f) => f.label)))].slice(0, 6);
  const wrap = h('div', { class: 'chart', role: 'img', 'aria-label': `${t('trend')}: ${labels.join(', ')}` });
  if (!labels.length) { wrap.append(h('p', { class: 'muted' }, t('no_history'))); return wrap; }
  if (rows.length < 2) {  // one analysis is not a trend: list its values instead of a one-point chart
    const only = rows[0];
    wrap.append(h('ul', { class: 'findings' }, labels.map((l) => {
      const f = only.findings.find((x) => x.label === l);
      return h('li', {}, `${l}: ${Math.round(f.probability * 100)}% · ${new Date(only.created_at).toLocaleDateString()}`);
    })));
    return wrap;
  }
  const xs = rows.map((r) => new Date(r.created_at).getTime() / 1000);
  const series = labels.map((l) => rows.map((r) => (r.findings.find((f) => f.label === l) || {}).probability ?? null));
  whenAttached(wrap, () => {
    plot(wrap, {
      width: width(wrap), height: 200,
      series: [{}, ...labels.map((l, i) => ({ label: l, stroke: COLORS[i % COLORS.length], width: 2, points: { show: true } }))],
      scales: { x: { range: (u, min, max) => (max - min < 86400 ? [min - 86400, max + 86400] : [min, max]) }, y: { range: [0, 1] } },
      axes: [{}, { values: (u, v) => v.map((x) => `${Math.round(x * 100)}%`) }],
    }, [xs, ...series]);
  });
  return wrap;
}

/** A tiny line without axes, for a value across reports (an indicator's history). */
export function sparkline(values, label) {
  const wrap = h('span', { class: 'spark', role: 'img', 'aria-label': `${label}: ${values.map((v) => v[1]).join(', ')}` });
  if (values.length < 2) return wrap;
  whenAttached(wrap, () => {
    plot(wrap, {
      width: 96, height: 28, legend: { show: false }, cursor: { show: false },
      axes: [{ show: false }, { show: false }], scales: { x: { time: false } },
      series: [{}, { stroke: '#0b6e4f', width: 1.5, points: { show: true, size: 4 } }],
    }, [values.map((v, i) => i), values.map((v) => v[1])], true);
  });
  return wrap;
}

/** Daily adherence from the reminders service's per-drug day map ("all" | "partial" | "none"): the share of
 *  plans fully taken each day. */
export function adherenceChart(adherence) {
  const score = { all: 1, partial: 0.5, none: 0 };
  const perDay = new Map();
  for (const d of adherence.per_drug) {
    for (const [day, state] of Object.entries(d.days)) {
      const v = perDay.get(day) || [];
      v.push(score[state] ?? 0);
      perDay.set(day, v);
    }
  }
  const days = [...perDay.keys()].sort();
  const wrap = h('div', { class: 'chart', role: 'img', 'aria-label': t('adherence') });
  if (!days.length) { wrap.append(h('p', { class: 'muted' }, t('no_history'))); return wrap; }
  const xs = days.map((d) => new Date(`${d}T12:00:00`).getTime() / 1000);
  const ys = days.map((d) => { const v = perDay.get(d); return v.reduce((a, b) => a + b, 0) / v.length; });
  whenAttached(wrap, () => {
    plot(wrap, {
      width: width(wrap), height: 180, legend: { show: false },
      scales: { x: { range: (u, min, max) => (max - min < 86400 ? [min - 86400, max + 86400] : [min, max]) }, y: { range: [0, 1] } },
      axes: [{}, { values: (u, v) => v.map((x) => `${Math.round(x * 100)}%`) }],
      series: [{}, { label: t('proportion_taken'), stroke: '#0b6e4f', fill: 'rgba(11,110,79,0.15)', width: 2, points: { show: true } }],
    }, [xs, ys]);
  });
  return wrap;
}

/** Grouped bars over categories (e.g. bookings per department) with uPlot's bar paths. */
export function barChart(categories, series) {
  const wrap = h('div', { class: 'chart', role: 'img', 'aria-label': series.map(([name, v]) => `${name}: ${v.join(', ')}`).join('; ') });
  if (!categories.length) { wrap.append(h('p', { class: 'muted' }, t('no_history'))); return wrap; }
  const xs = categories.map((c, i) => i);
  const n = series.length;
  whenAttached(wrap, () => {
    plot(wrap, {
      width: width(wrap), height: 220,
      scales: { x: { time: false, range: [-0.5, categories.length - 0.5] }, y: { range: (u, min, max) => [0, Math.max(1, max)] } },
      axes: [{ values: (u, vals) => vals.map((v) => (Number.isInteger(v) ? categories[v] || '' : '')), gap: 4 },
        { values: (u, vals) => vals.map((v) => (Number.isInteger(v) ? v : '')) }],
      series: [{}, ...series.map(([name], i) => ({
        label: name, stroke: COLORS[i % COLORS.length], fill: COLORS[i % COLORS.length] + 'cc', width: 1,
        paths: uPlot.paths.bars({ size: [0.8 / n, 60], align: 0, disp: { x0: { unit: 2, values: () => xs.map((x) => x - 0.4 + (0.8 / n) * i) } } }),
        points: { show: false },
      }))],
    }, [xs, ...series.map(([, v]) => v)]);
  });
  return wrap;
}

const xRange = (u, min, max) => (max - min < 86400 ? [min - 86400, max + 86400] : [min, max]);

/** One indicator's values over time (oldest first), points flagged abnormal drawn in red. */
export function indicatorChart(points, name) {
  const unit = (points.find((p) => p.unit) || {}).unit || '';
  const wrap = h('div', { class: 'chart', role: 'img', 'aria-label': `${name}: ${points.map((p) => `${p.value}${unit}`).join(', ')}` });
  if (points.length < 2) {  // one value is not a trend: say so instead of a one-point chart
    wrap.append(h('p', { class: 'muted' }, points.length ? t('one_value') : t('no_history')));
    return wrap;
  }
  const xs = points.map((p) => new Date(p.taken_at).getTime() / 1000);
  const ys = points.map((p) => p.value);
  const flagged = points.map((p) => (p.flag && p.flag !== 'N' && p.flag !== 'NEG' ? p.value : null));
  whenAttached(wrap, () => {
    plot(wrap, {
      width: width(wrap), height: 220, legend: { show: false },
      scales: { x: { range: xRange } },
      axes: [{}, { label: unit, size: 56 }],
      series: [{}, { label: `${name}${unit ? ` (${unit})` : ''}`, stroke: COLORS[0], width: 2, points: { show: true, size: 7 } },
        { label: t('flag_ABN'), stroke: 'transparent', points: { show: true, size: 9, stroke: COLORS[1], fill: COLORS[1] } }],
    }, [xs, ys, flagged]);
  });
  return wrap;
}

/** Counts or shares per day (ISO dates, oldest first): `series` is [[name, values, {percent, bars}]...]. */
export function dailyChart(days, series, { percent = false } = {}) {
  const wrap = h('div', { class: 'chart', role: 'img', 'aria-label': series.map(([name, v]) => `${name}: ${v.map((x) => x ?? '—').join(', ')}`).join('; ') });
  if (!days.length) { wrap.append(h('p', { class: 'muted' }, t('no_history'))); return wrap; }
  const xs = days.map((d) => new Date(`${d}T12:00:00`).getTime() / 1000);
  whenAttached(wrap, () => {
    plot(wrap, {
      width: width(wrap), height: 200, legend: { live: false },
      // half a day either side, so the first and last days' bars are drawn whole
      scales: { x: { range: (u, min, max) => [min - 43200, max + 43200] }, y: { range: percent ? [0, 1] : (u, min, max) => [0, Math.max(1, max)] } },
      axes: [{}, { values: (u, v) => v.map((x) => (percent ? `${Math.round(x * 100)}%` : (Number.isInteger(x) ? x : ''))) }],
      series: [{}, ...series.map(([name, , opts = {}], i) => ({
        label: name, stroke: COLORS[i % COLORS.length], width: 2, spanGaps: true,
        fill: opts.bars ? `${COLORS[i % COLORS.length]}aa` : undefined,
        paths: opts.bars ? uPlot.paths.bars({ size: [0.6 / series.length, 40], align: 0 }) : undefined,
        points: { show: !opts.bars },
      }))],
    }, [xs, ...series.map(([, v]) => v)]);
  });
  return wrap;
}
