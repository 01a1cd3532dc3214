// Administration for organization admins and the operator: organizations
// (operator), users, their tokens (a new token is shown once; revoke), and
// a store's grants. What the caller may not do, the API refuses and the page
// says so.

import { api, session } from './api.js';
import { h, replace, time, table, errorBox, field, notify, errorText } from './dom.js';
import { sectionHref } from './router.js';

export async function render(main, route) {
  const who = session.whoami;
  const org = session.org || (who.token && who.token.org) || 'default';
  const params = route.params;
  const orgsBox = h('section', { class: 'panel', 'aria-label': 'Organizations' });
  const usersBox = h('section', { class: 'panel', 'aria-label': 'Users', id: 'users' });
  const tokensBox = h('section', { class: 'panel', 'aria-label': 'Tokens', id: 'tokens' });
  const grantsBox = h('section', { class: 'panel', 'aria-label': 'Grants', id: 'grants' });
  replace(main, h('h1', {}, 'Administration ', h('span', { class: 'muted' }, 'of ' + org)),
    who.principal === 'operator' ? orgsBox : '', usersBox, tokensBox, grantsBox);

  if (who.principal === 'operator') await showOrgs(orgsBox);
  await showUsers(usersBox, org, params.user);
  if (params.user) await showTokens(tokensBox, org, params.user);
  else replace(tokensBox, h('h2', {}, 'Tokens'), h('p', { class: 'muted' }, 'Choose a user to see their tokens.'));
  await showGrants(grantsBox, params.store);
}

async function showOrgs(box) {
  const name = h('input', { name: 'org', required: true, autocomplete: 'off' });
  const status = h('div', {});
  const form = h('form', { class: 'inline' }, field('New organization', name), h('button', { type: 'submit' }, 'Create'), status);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      await api.createOrg(name.value.trim());
      notify('Created organization ' + name.value.trim());
      location.reload();
    } catch (error) {
      replace(status, errorBox(error));
    }
  });
  try {
    const orgs = (await api.orgs()).orgs;
    replace(box, h('h2', {}, 'Organizations'),
      table(['Organization', 'Created'], orgs.map((org) => h('tr', {}, h('td', {}, org.name), h('td', {}, time(org.created_ms))))),
      form);
  } catch (error) {
    replace(box, h('h2', {}, 'Organizations'), errorBox(error));
  }
}

async function showUsers(box, org, selected) {
  const name = h('input', { name: 'user', required: true, autocomplete: 'off' });
  const role = h('select', { name: 'role' }, h('option', { value: 'member' }, 'member'), h('option', { value: 'admin' }, 'admin'));
  const status = h('div', {});
  const form = h('form', { class: 'inline', 'aria-label': 'New user' }, field('New user', name), field('Role', role),
    h('button', { type: 'submit' }, 'Create user'), status);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      const user = await api.createUser(org, name.value.trim(), role.value);
      notify('Created user ' + user.name);
      location.hash = sectionHref('admin', { user: user.name });
    } catch (error) {
      replace(status, errorBox(error));
    }
  });
  try {
    const users = (await api.users(org)).users;
    replace(box, h('h2', {}, 'Users'),
      table(['User', 'Role', 'Created', ''], users.map((user) => h('tr', { 'aria-current': user.name === selected ? 'true' : false },
        h('td', {}, user.name), h('td', {}, user.role), h('td', {}, time(user.created_ms)),
        h('td', {}, h('a', { href: sectionHref('admin', { user: user.name }) }, 'Tokens'))))),
      form);
  } catch (error) {
    replace(box, h('h2', {}, 'Users'), errorBox(error));
  }
}

async function showTokens(box, org, user) {
  const agent = h('input', { name: 'agent', autocomplete: 'off', placeholder: 'any agent' });
  const expires = h('input', { name: 'expires_in_s', type: 'number', min: 1, placeholder: 'never' });
  const created = h('div', { id: 'token-created' });
  const form = h('form', { class: 'inline', 'aria-label': 'New token' }, field('Bound to agent', agent), field('Expires in (s)', expires),
    h('button', { type: 'submit' }, 'Create token'));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const request = {};
    if (agent.value.trim()) request.agent = agent.value.trim();
    if (expires.value) request.expires_in_s = Number(expires.value);
    try {
      const token = await api.createToken(org, user, request);
      const secret = h('input', { readonly: true, value: token.token, id: 'new-token', 'aria-label': 'New token', size: 40 });
      replace(created, h('div', { class: 'banner' },
        h('p', {}, 'The token, shown this once. Copy it now: Cairn keeps only its hash.'), secret,
        h('button', { type: 'button', onclick: () => { secret.select(); navigator.clipboard && navigator.clipboard.writeText(token.token); } }, 'Copy')));
      await list();
      secret.select();
    } catch (error) {
      replace(created, errorBox(error));
    }
  });
  const listBox = h('div', {});
  async function list() {
    try {
      const tokens = (await api.tokens(org, user)).tokens;
      replace(listBox, table(['Id', 'Agent', 'Created', 'Expires', 'Revoked', ''], tokens.map((token) => h('tr', {},
        h('td', {}, h('code', {}, token.id)), h('td', {}, token.agent || 'any'), h('td', {}, time(token.created_ms)),
        h('td', {}, token.expires_ms ? time(token.expires_ms) : 'never'), h('td', {}, token.revoked_ms ? time(token.revoked_ms) : ''),
        h('td', {}, token.revoked_ms ? '' : h('button', {
          type: 'button', class: 'link danger', onclick: async () => {
            if (!confirm('Revoke token ' + token.id + '? Every node refuses it from then on.')) return;
            try {
              await api.revokeToken(token.id);
              notify('Revoked ' + token.id);
              await list();
            } catch (error) {
              notify(errorText(error), 'error');
            }
          },
        }, 'Revoke'))))));
    } catch (error) {
      replace(listBox, errorBox(error));
    }
  }
  replace(box, h('h2', {}, 'Tokens of ' + user), listBox, form, created);
  await list();
}

async function showGrants(box, selected) {
  let stores = [];
  try {
    stores = (await api.stores()).stores;
  } catch (error) {
    replace(box, h('h2', {}, 'Grants'), errorBox(error));
    return;
  }
  const storeSelect = h('select', { name: 'store', id: 'grant-store' },
    h('option', { value: '' }, 'choose a store'),
    stores.map((store) => h('option', { value: store.name }, store.name)));
  storeSelect.value = selected || '';
  storeSelect.addEventListener('change', () => { location.hash = sectionHref('admin', { store: storeSelect.value }); });
  const listBox = h('div', {});
  replace(box, h('h2', {}, 'Grants'), field('Store', storeSelect), listBox);
  if (!selected) return;
  const user = h('input', { name: 'grant-user', required: true, autocomplete: 'off' });
  const access = h('select', { name: 'access' }, ['read', 'write', 'admin'].map((value) => h('option', { value }, value)));
  const status = h('div', {});
  const form = h('form', { class: 'inline', 'aria-label': 'Grant access' }, field('User', user), field('Access', access),
    h('button', { type: 'submit' }, 'Grant'), status);
  async function list() {
    try {
      const grants = (await api.grants(selected)).grants;
      replace(listBox, grants.length ? table(['User', 'Access', ''], grants.map((grant) => h('tr', {},
        h('td', {}, grant.user), h('td', {}, grant.access),
        h('td', {}, h('button', {
          type: 'button', class: 'link danger', onclick: async () => {
            try {
              await api.removeGrant(selected, grant.user);
              await list();
            } catch (error) {
              notify(errorText(error), 'error');
            }
          },
        }, 'Remove'))))) : h('p', { class: 'muted' }, 'No grant: the store\'s defaults apply.'), form);
    } catch (error) {
      replace(listBox, errorBox(error));
    }
  }
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      await api.setGrant(selected, user.value.trim(), access.value);
      notify('Granted ' + access.value + ' on ' + selected + ' to ' + user.value.trim());
      await list();
    } catch (error) {
      replace(status, errorBox(error));
    }
  });
  await list();
}
