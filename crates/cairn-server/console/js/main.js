// The console's entry point: sign-in state, the header, and which view the
// hash shows. Every view is a module with `render(main, route)`.

import { api, session } from './api.js';
import { h, replace, showError, clearOldNotices, errorText } from './dom.js';
import { parse } from './router.js';
import * as signin from './signin.js';
import * as stores from './stores.js';
import * as file from './file.js';
import * as history from './history.js';
import * as rollback from './rollback.js';
import * as redact from './redact.js';
import * as audit from './audit.js';
import * as admin from './admin.js';
import * as cluster from './cluster.js';
import { stopAll } from './live.js';

const views = {
  stores: stores.render,
  files: file.render,
  history: history.render,
  rollback: rollback.render,
  redact: redact.render,
  audit: audit.render,
  admin: admin.render,
  cluster: cluster.render,
};

async function showHeader() {
  const who = session.whoami;
  document.getElementById('nav').hidden = !who;
  document.getElementById('who').hidden = !who;
  if (!who) return;
  document.getElementById('principal').textContent =
    who.principal + (who.role ? ' (' + who.role + ')' : '');
  const select = document.getElementById('org');
  const orgs = [];
  if (who.principal === 'operator') {
    try {
      for (const org of (await api.orgs()).orgs) orgs.push(org.name);
    } catch (error) {
      showError(error);
    }
  } else if (who.token && who.token.org) {
    orgs.push(who.token.org);
  }
  if (!session.org && orgs.length) session.org = who.principal === 'operator' ? 'default' : orgs[0];
  replace(select, orgs.map((name) => h('option', { value: name }, name)));
  select.value = session.org;
  select.disabled = orgs.length < 2;
}

async function route() {
  stopAll();
  clearOldNotices();
  const main = document.getElementById('main');
  if (!session.token) {
    if (location.hash !== '#/signin') history_replace('#/signin');
    await signin.render(main, onSignedIn);
    return;
  }
  if (!session.whoami) {
    try {
      session.whoami = await api.whoami();
    } catch (error) {
      session.token = null;
      showError(error);
      return route();
    }
    await showHeader();
  }
  const current = parse(location.hash);
  if (current.section === 'signin') {
    history_replace('#/stores');
    return route();
  }
  for (const link of document.querySelectorAll('#nav a')) {
    if (link.dataset.section === current.section) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  const view = views[current.view] || stores.render;
  replace(main, h('p', { class: 'muted' }, 'Loading…'));
  try {
    await view(main, current);
  } catch (error) {
    replace(main, h('h1', {}, 'Something went wrong'), h('p', { class: 'error', role: 'alert' }, errorText(error)));
  }
}

function history_replace(hash) {
  window.history.replaceState(null, '', hash);
}

async function onSignedIn(whoami) {
  session.whoami = whoami;
  await showHeader();
  go('#/stores');
}

// Shows `hash`: a new hash renders through `hashchange`, the same one here.
function go(hash) {
  if (location.hash !== hash) location.hash = hash;
  else route();
}

function signOut() {
  session.token = null;
  session.org = null;
  session.whoami = null;
  document.getElementById('nav').hidden = true;
  document.getElementById('who').hidden = true;
  location.hash = '#/signin';
}

document.getElementById('signout').addEventListener('click', signOut);
document.getElementById('org').addEventListener('change', (event) => {
  session.org = event.target.value;
  go('#/stores');
});
window.addEventListener('hashchange', route);
window.addEventListener('cairn:unauthenticated', () => {
  showError({ code: 'unauthenticated', message: 'the token is no longer valid; sign in again' });
  signOut();
});
route();
