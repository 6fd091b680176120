// The shell: header (title, language switch, logout), the routed page, and a bottom tab bar like a mini-program.
// Routes are #/name so the gateway serves one file and deep links survive reloads.
import * as api from './api.js';
import { h } from './dom.js';
import { getLang, setLang, t } from './i18n.js';
import { authPage } from './pages/auth.js';
import { homePage } from './pages/home.js';
import { analysisPage, reportPage } from './pages/analysis.js';
import { consultPage } from './pages/consult.js';
import { historyPage } from './pages/history.js';
import { adminPage } from './pages/admin.js';
import { bookingPage } from './pages/booking.js';
import { medicationPage } from './pages/medication.js';
import { tipsPage } from './pages/tips.js';

const ROUTES = {
  login: { page: authPage, public: true },
  register: { page: authPage, public: true },
  home: { page: homePage, tab: 'home' },
  analysis: { page: analysisPage, tab: 'analysis' },
  report: { page: reportPage, tab: 'analysis' },
  history: { page: historyPage, tab: 'analysis' },
  consult: { page: consultPage, tab: 'consult' },
  medication: { page: medicationPage, tab: 'medication' },
  booking: { page: bookingPage, tab: 'booking' },
  tips: { page: tipsPage, tab: 'tips' },
  admin: { page: adminPage, tab: 'admin' },
};

const TABS = [['home', 'nav_home'], ['analysis', 'nav_analysis'], ['consult', 'nav_consult'],
  ['medication', 'nav_medication'], ['booking', 'nav_booking'], ['tips', 'nav_tips']];

export const session = { user: null };

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [path, query = ''] = raw.split('?');
  const [name, ...rest] = path.split('/');
  return { name: name || 'home', args: rest, params: new URLSearchParams(query) };
}

export function go(path) { location.hash = `#/${path}`; }

async function render() {
  const route = parseHash();
  const def = ROUTES[route.name] || ROUTES.home;
  if (!def.public && !api.isLoggedIn()) { go('login'); return; }
  if (def.public && api.isLoggedIn()) { go('home'); return; }
  document.title = `${t('app')} Zhenxi`;
  const root = document.getElementById('app');
  const main = h('main', { id: 'main', tabindex: '-1' });
  root.replaceChildren(...[header(), main, def.public ? null : tabbar(def.tab)].filter(Boolean));
  main.append(h('p', { class: 'muted' }, t('loading')));
  try {
    const content = await def.page(route, { go, session });
    main.replaceChildren(content);
  } catch (err) {
    main.replaceChildren(h('p', { class: 'alert error', role: 'alert' }, String(err.message || err)));
  }
  main.focus({ preventScroll: true });
}

function header() {
  const switchLang = h('button', {
    type: 'button', class: 'link', title: t('lang_label'), lang: getLang() === 'zh' ? 'en' : 'zh',
    onclick: () => { setLang(getLang() === 'zh' ? 'en' : 'zh'); render(); },
  }, t('lang_switch'));
  const right = [switchLang];
  if (api.isLoggedIn()) {
    if (session.user && session.user.role === 'admin') right.unshift(h('a', { href: '#/admin', class: 'link' }, t('nav_admin')));
    right.push(h('button', {
      type: 'button', class: 'link', onclick: async () => { await api.logout(); session.user = null; go('login'); },
    }, t('logout')));
  }
  return h('header', { class: 'topbar' },
    h('a', { href: '#/home', class: 'brand' }, h('span', { 'aria-hidden': 'true', class: 'logo' }, '诊'), t('app')),
    h('nav', { class: 'top-actions', 'aria-label': 'account' }, right));
}

function tabbar(active) {
  return h('nav', { class: 'tabbar', 'aria-label': 'main' },
    TABS.map(([name, key]) => h('a', {
      href: `#/${name}`, class: name === active ? 'active' : '', 'aria-current': name === active ? 'page' : false,
    }, h('span', { class: `icon icon-${name}`, 'aria-hidden': 'true' }), h('span', {}, t(key)))));
}

export async function loadUser() {
  session.user = api.isLoggedIn() ? await api.me().catch(() => null) : null;
}

async function start() {
  setLang(getLang());
  const skip = document.getElementById('skip');
  if (skip) skip.addEventListener('click', (ev) => { ev.preventDefault(); document.getElementById('main')?.focus(); });
  await api.refresh();  // a session cookie from an earlier visit signs us back in
  await loadUser();
  window.addEventListener('hashchange', render);
  render();
}

start();
