// Health tips: categories, search, favourites and "for you" with the reason for each; the admin editor with a
// live preview. Routes and fields are the tips service's. Tip bodies are HTML that the tips service renders from
// Markdown and sanitises; they are the only markup this client inserts (CSP blocks any script regardless).
import { api } from '../api.js';
import { alertBox, card, field, h, showAlert } from '../dom.js';
import { errorText, getLang, t } from '../i18n.js';

const tipLang = () => (getLang() === 'en' ? 'en' : 'zh-CN');

function sanitisedHtml(html) {
  const tpl = document.createElement('template');
  tpl.innerHTML = html;  // server-sanitised (tips service); scripts cannot run under this page's CSP
  return tpl.content;
}

function tipItem(tip, reason) {
  const star = h('button', {
    type: 'button', class: `small fav ${tip.favorited ? 'on' : ''}`, 'aria-pressed': tip.favorited ? 'true' : 'false',
    onclick: async () => {
      const on = star.getAttribute('aria-pressed') === 'true';
      try {
        await api(`tips/v1/favorites/${tip.id}`, { method: on ? 'DELETE' : 'PUT' });
        star.setAttribute('aria-pressed', on ? 'false' : 'true');
        star.classList.toggle('on', !on);
        star.textContent = on ? `☆ ${t('favorite')}` : `★ ${t('favorited')}`;
      } catch { /* leave as is */ }
    },
  }, tip.favorited ? `★ ${t('favorited')}` : `☆ ${t('favorite')}`);
  return h('li', { class: 'tip' },
    h('a', { href: `#/tips/${tip.id}` }, h('strong', {}, tip.title)), h('span', { class: 'chip' }, tip.category_name),
    h('p', { class: 'small' }, tip.summary),
    reason ? h('p', { class: 'small reason' }, `${t('why')}: ${getLang() === 'en' ? reason.text_en : reason.text}`) : null,
    star);
}

async function tipDetail(id) {
  const tip = await api(`tips/v1/tips/${id}`);
  return h('div', { class: 'page' }, h('h1', {}, tip.title), card(null,
    h('p', { class: 'muted' }, tip.summary), h('div', { class: 'tip-body' }, sanitisedHtml(tip.body_html)),
    tip.references.length ? h('div', {}, h('h3', {}, t('sources')), h('ul', {}, tip.references.map((r) => h('li', { class: 'small' },
      `${r.title}${r.publisher ? ` · ${r.publisher}` : ''}${r.year ? ` · ${r.year}` : ''}`)))) : null),
  h('p', {}, h('a', { href: '#/tips' }, t('back'))));
}

export async function tipsPage(route) {
  if (route.args[0]) return tipDetail(route.args[0]);
  const page = h('div', { class: 'page' }, h('h1', {}, t('nav_tips')));
  let categories;
  try { categories = await api('tips/v1/categories'); } catch (err) {
    page.append(card(null, h('p', {}, t('pending_service'))));
    return page;
  }
  const category = route.params.get('category') || '';
  const q = route.params.get('q') || '';
  const tab = route.params.get('tab') || (q || category ? 'browse' : 'foryou');
  const qInput = h('input', { type: 'search', name: 'q', value: q, maxlength: 200, placeholder: t('tips_search_ph') });
  page.append(card(null, h('form', { class: 'search-row', role: 'search', onsubmit: (ev) => {
    ev.preventDefault();
    location.hash = `#/tips?tab=browse&q=${encodeURIComponent(qInput.value.trim())}`;
  } }, field(t('search'), qInput), h('button', { type: 'submit', class: 'primary' }, t('search'))),
  h('nav', { class: 'chips', 'aria-label': t('categories') },
    h('a', { href: '#/tips?tab=foryou', class: `chip ${tab === 'foryou' ? 'on' : ''}` }, t('for_you')),
    h('a', { href: '#/tips?tab=favorites', class: `chip ${tab === 'favorites' ? 'on' : ''}` }, t('favorites')),
    categories.map((c) => h('a', { href: `#/tips?tab=browse&category=${c.id}`, class: `chip ${category === c.id ? 'on' : ''}` },
      getLang() === 'en' ? c.name_en : c.name)))));
  const list = h('ul', { class: 'tips' });
  try {
    if (tab === 'foryou') {
      const rec = await api(`tips/v1/recommendations?limit=10&lang=${tipLang()}`);
      rec.items.forEach((r) => list.append(tipItem(r.tip, r.reason)));
    } else if (tab === 'favorites') {
      (await api('tips/v1/favorites')).items.forEach((f) => list.append(tipItem({ ...f.tip, favorited: true })));
    } else {
      const params = new URLSearchParams({ lang: tipLang() });
      if (category) params.set('category', category);
      if (q) params.set('q', q);
      (await api(`tips/v1/tips?${params}`)).items.forEach((x) => list.append(tipItem(x)));
    }
  } catch (err) { list.append(h('li', { class: 'alert error' }, errorText(err))); }
  page.append(card(t(tab === 'foryou' ? 'for_you' : tab === 'favorites' ? 'favorites' : 'nav_tips'),
    list.childElementCount ? list : h('p', { class: 'muted' }, t('no_tips'))));
  return page;
}

export async function tipsAdmin() {
  let categories;
  try { categories = await api('tips/v1/categories'); } catch { return [card(t('tips_editor'), h('p', { class: 'muted' }, t('pending_service')))]; }
  const title = h('input', { name: 'tip_title', required: true, minlength: 2, maxlength: 120 });
  const summary = h('input', { name: 'tip_summary', required: true, minlength: 2, maxlength: 300 });
  const cat = h('select', { name: 'tip_category' }, categories.map((c) => h('option', { value: c.id }, (getLang() === 'en' && c.name_en) || c.name)));
  const lang = h('select', { name: 'tip_lang' }, [['zh-CN', '中文'], ['en', 'English']].map(([v, l]) => h('option', { value: v }, l)));
  const body = h('textarea', { name: 'tip_body', rows: 8, required: true, maxlength: 20000 });
  const preview = h('div', { class: 'tip-body preview', 'aria-live': 'polite' });
  const tags = h('p', { class: 'small muted' });
  const box = alertBox();
  let timer = null;
  const refresh = () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      if (!body.value.trim()) { preview.replaceChildren(); return; }
      try {
        const p = await api('tips/v1/admin/preview', { method: 'POST', json: { body: body.value, title: title.value, lang: lang.value } });
        preview.replaceChildren(sanitisedHtml(p.body_html));
        tags.textContent = `${t('auto_tags')}: ${p.auto_tags.join('、') || '—'}`;
      } catch (err) { showAlert(box, errorText(err)); }
    }, 400);
  };
  body.addEventListener('input', refresh);
  title.addEventListener('input', refresh);
  const save = async (publish) => {
    showAlert(box, '');
    try {
      const tip = await api('tips/v1/admin/tips', { method: 'POST', json: {
        title: title.value.trim(), summary: summary.value.trim(), category: cat.value, lang: lang.value, body: body.value,
      } });
      if (publish) await api(`tips/v1/admin/tips/${tip.id}/publish`, { method: 'POST' });
      showAlert(box, `${t('saved')}: ${tip.title}${publish ? ` · ${t('published')}` : ''}`, 'ok');
    } catch (err) { showAlert(box, errorText(err)); }
  };
  return [card(t('tips_editor'), h('form', { class: 'stack', onsubmit: (ev) => { ev.preventDefault(); save(true); } },
    field(t('tip_title'), title), field(t('tip_summary'), summary),
    h('div', { class: 'row' }, field(t('category'), cat), field(t('language'), lang)),
    h('div', { class: 'editor' }, field(t('tip_body'), body, t('markdown_hint')), h('div', {}, h('h3', {}, t('preview')), preview, tags)),
    box, h('div', { class: 'actions' }, h('button', { type: 'button', onclick: () => save(false) }, t('save_draft')),
      h('button', { type: 'submit', class: 'primary' }, t('publish')))))];
}
