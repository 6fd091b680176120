// Admin: the X-ray model registry (upload → validated and staged; promote; roll back) and training jobs with
// live progress (SSE). Routes are the xray service's (/api/xray/v1/models..., /training-jobs...).
import { api, sseLoop } from '../api.js';
import { alertBox, card, field, h, showAlert } from '../dom.js';
import { errorText, t } from '../i18n.js';

let watching = null;
window.addEventListener('hashchange', () => { if (watching) watching.abort(); watching = null; });

function jobLine(j) {
  const p = j.progress || {};
  const bits = [j.status];
  if (p.epoch != null) bits.push(`${t('epoch')} ${p.epoch}${p.epochs ? `/${p.epochs}` : ''}`);
  if (p.val_auroc != null) bits.push(`AUROC ${Number(p.val_auroc).toFixed(3)}`);
  if (p.loss != null) bits.push(`loss ${Number(p.loss).toFixed(3)}`);
  return `${j.model_name} ${j.version || ''} · ${bits.join(' · ')}`;
}

export async function modelsAdmin() {
  const models = card(t('models'));
  const mbox = alertBox();
  const table = h('div', { class: 'table-wrap' });
  const served = h('p', { class: 'small muted' });
  const load = async () => {
    try {
      const [list, now] = await Promise.all([api('xray/v1/models'), api('xray/v1/models/served')]);
      const names = [...new Set(list.items.map((m) => m.name))];
      table.replaceChildren(h('table', {}, h('thead', {}, h('tr', {},
        [t('model_name'), t('model_version'), t('model_stage'), ''].map((k) => h('th', { scope: 'col' }, k)))),
      h('tbody', {}, list.items.map((m) => h('tr', {}, h('td', {}, m.name), h('td', {}, m.version), h('td', { class: `mstatus ${m.status}` }, t(`mstatus_${m.status}`) === `mstatus_${m.status}` ? m.status : t(`mstatus_${m.status}`)),
        h('td', {}, m.status === 'active' ? '' : h('button', {
          type: 'button', class: 'small',
          onclick: async () => { try { await api(`xray/v1/models/${encodeURIComponent(m.name)}/versions/${encodeURIComponent(m.version)}:promote`, { method: 'POST' }); showAlert(mbox, `${t('saved')}: ${m.name} ${m.version}`, 'ok'); load(); } catch (err) { showAlert(mbox, errorText(err)); } },
        }, t('promote'))))))),
      h('div', { class: 'actions' }, names.map((n) => h('button', {
        type: 'button', class: 'small',
        onclick: async () => { try { const r = await api(`xray/v1/models/${encodeURIComponent(n)}:rollback`, { method: 'POST' }); showAlert(mbox, `${n} → ${r.active_version}`, 'ok'); load(); } catch (err) { showAlert(mbox, errorText(err)); } },
      }, `${t('rollback')} ${n}`))));
      served.textContent = `${t('served')}: ${Object.entries(now.models || {}).map(([n, m]) => `${n} ${m.version || ''}`).join('，') || '—'}`;
    } catch (err) { showAlert(mbox, errorText(err)); }
  };
  await load();
  models.append(mbox, table, served);

  const file = h('input', { type: 'file', name: 'model_file', accept: '.onnx', required: true });
  const name = h('input', { name: 'model_name', required: true, maxlength: 64 });
  // The xray registry's tasks (validation.TASKS): the signature a candidate must have.
  const task = h('select', { name: 'task', required: true }, [['classification', t('task_classification')],
    ['detection', t('task_detection')], ['chest', t('task_chest')]].map(([v, l]) => h('option', { value: v }, l)));
  const version = h('input', { name: 'version', required: true, maxlength: 64 });
  const labels = h('input', { name: 'labels', maxlength: 2000, placeholder: 'normal, pneumonia' });
  const ubox = alertBox();
  const upload = card(t('upload_model'), h('form', {
    class: 'stack',
    onsubmit: async (ev) => {
      ev.preventDefault();
      const f = new FormData();
      f.append('file', file.files[0]); f.append('name', name.value.trim()); f.append('task', task.value.trim()); f.append('version', version.value.trim());
      const names = labels.value.split(/[,，]/).map((x) => x.trim()).filter(Boolean);
      if (names.length) f.append('metadata', JSON.stringify({ labels: names }));  // else the registry keeps the active version's
      try { const m = await api('xray/v1/models', { method: 'POST', form: f }); showAlert(ubox, `${t('staged')}: ${m.name} ${m.version}`, 'ok'); load(); } catch (err) { showAlert(ubox, errorText(err)); }
    },
  }, field(t('onnx_file'), file), h('div', { class: 'row' }, field(t('model_name'), name), field(t('task'), task), field(t('model_version'), version)),
  field(t('model_labels'), labels, t('model_labels_hint')),
  ubox, h('button', { type: 'submit', class: 'primary' }, t('upload'))));

  const jobs = card(t('training_jobs'));
  const zip = h('input', { type: 'file', name: 'dataset', accept: '.zip', required: true });
  const jname = h('input', { name: 'job_model_name', value: 'custom-classifier', maxlength: 64 });
  const epochs = h('input', { type: 'number', name: 'epochs', min: 1, max: 50, value: 5 });
  const jbox = alertBox();
  const jlist = h('ul', { class: 'links', 'aria-live': 'polite' });
  const follow = (job, li) => {
    if (!watching) watching = new AbortController();
    sseLoop(`xray/v1/training-jobs/${job.id}/events`, async () => {
      try { li.firstChild.textContent = jobLine(await api(`xray/v1/training-jobs/${job.id}`)); } catch { /* keep */ }
    }, watching.signal, { retryMs: 3000, maxReconnects: 20 });
  };
  const listJobs = async () => {
    try {
      const items = (await api('xray/v1/training-jobs')).items;
      jlist.replaceChildren(...items.map((j) => {
        const li = h('li', {}, h('span', {}, jobLine(j)));
        if (!['succeeded', 'failed', 'cancelled'].includes(j.status)) follow(j, li);
        return li;
      }));
      if (!items.length) jlist.append(h('li', { class: 'muted' }, t('no_history')));
    } catch (err) { showAlert(jbox, errorText(err)); }
  };
  await listJobs();
  jobs.append(h('form', {
    class: 'stack',
    onsubmit: async (ev) => {
      ev.preventDefault();
      const f = new FormData();
      f.append('file', zip.files[0]); f.append('model_name', jname.value.trim()); f.append('epochs', epochs.value);
      try { await api('xray/v1/training-jobs', { method: 'POST', form: f }); listJobs(); } catch (err) { showAlert(jbox, errorText(err)); }
    },
  }, field(t('dataset_zip'), zip, t('dataset_hint')), h('div', { class: 'row' }, field(t('model_name'), jname), field(t('epochs'), epochs)),
  jbox, h('button', { type: 'submit', class: 'primary' }, t('start_training'))), jlist);
  return [models, upload, jobs];
}
