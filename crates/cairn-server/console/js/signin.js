// Sign-in: a token, checked with `GET /v1/whoami`, then kept in this tab's
// sessionStorage only.

import { api, session } from './api.js';
import { h, replace, errorBox, field } from './dom.js';

export async function render(main, onSignedIn) {
  const token = h('input', { type: 'password', name: 'token', autocomplete: 'off', required: true, spellcheck: 'false', id: 'token' });
  const status = h('div', {});
  const form = h('form', { class: 'panel narrow', 'aria-labelledby': 'signin-title' },
    h('h1', { id: 'signin-title' }, 'Sign in to Cairn'),
    h('p', {}, 'Paste an API token (cairn_…). It is kept in this tab only and sent as a bearer token.'),
    field('Token', token),
    h('button', { type: 'submit', class: 'primary' }, 'Sign in'),
    status);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    session.token = token.value.trim();
    session.org = null;
    try {
      const whoami = await api.whoami();
      await onSignedIn(whoami);
    } catch (error) {
      session.token = null;
      replace(status, errorBox(error));
    }
  });
  replace(main, form);
  token.focus();
}
