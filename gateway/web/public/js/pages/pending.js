// Pages whose service API has not been deployed on this server yet: they say so plainly instead of pretending.
import { api } from '../api.js';
import { card, h } from '../dom.js';
import { t } from '../i18n.js';

export function pendingPage(titleKey, service) {
  return async () => {
    let version = null;
    try { version = (await api(`${service}/v1/info`)).version; } catch { /* unreachable */ }
    return h('div', { class: 'page' }, h('h1', {}, t(titleKey)),
      card(null, h('p', {}, t('pending_service')), h('p', { class: 'muted' }, `${service} ${version ?? ''}`)));
  };
}
