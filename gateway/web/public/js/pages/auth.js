// Sign-up and login, with the WeChat path explained.
import * as api from '../api.js';
import { alertBox, card, field, h, showAlert } from '../dom.js';
import { errorText, t } from '../i18n.js';
import { loadUser } from '../app.js';

export async function authPage(route, { go }) {
  const registering = route.name === 'register';
  const username = h('input', { name: 'username', autocomplete: 'username', required: true, minlength: 3, maxlength: 64 });
  const password = h('input', {
    name: 'password', type: 'password', required: true, minlength: registering ? 8 : 1, maxlength: 256,
    autocomplete: registering ? 'new-password' : 'current-password',
  });
  const box = alertBox();
  if (route.params.get('registered')) showAlert(box, t('registered'), 'ok');
  const submit = h('button', { type: 'submit', class: 'primary' }, registering ? t('register') : t('login'));
  const form = h('form', {
    class: 'stack', novalidate: true,
    onsubmit: async (ev) => {
      ev.preventDefault();
      showAlert(box, '');
      submit.disabled = true;
      try {
        if (registering) {
          await api.register(username.value.trim(), password.value);
          go('login?registered=1');
        } else {
          await api.login(username.value.trim(), password.value);
          await loadUser();
          go('home');
        }
      } catch (err) {
        showAlert(box, errorText(err));
      } finally {
        submit.disabled = false;
      }
    },
  },
  field(t('username'), username, registering ? t('username_hint') : null),
  field(t('password'), password, registering ? t('password_hint') : null),
  box, submit,
  h('p', {}, h('a', { href: registering ? '#/login' : '#/register' }, registering ? t('have_account') : t('no_account'))));

  return h('div', { class: 'page auth' },
    h('div', { class: 'hero' }, h('h1', {}, t('app')), h('p', {}, t('tagline'))),
    card(registering ? t('register') : t('login'), form),
    card(t('wechat_title'), h('p', { class: 'muted' }, t('wechat_text'))),
    h('p', { class: 'muted small' }, t('disclaimer')));
}
