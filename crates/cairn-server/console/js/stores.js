// The stores the caller can see, with scope, owner, size, revision and the
// caller's access; a
// store can be created (and deleted, after typing its name).

import { api, session } from './api.js';
import { h, replace, table, bytes, time, errorBox, field, notify, errorText } from './dom.js';
import { href } from './router.js';

export async function render(main) {
  const list = await api.stores();
  const rows = list.stores.map((store) => h('tr', {},
    h('td', {}, h('a', { href: href(store.name, 'files', '/') }, store.name)),
    h('td', {}, store.owner ? 'user' : 'organization'),
    h('td', {}, store.owner || ''),
    h('td', { class: 'num' }, store.file_count),
    h('td', { class: 'num' }, bytes(store.bytes_total)),
    h('td', { class: 'num' }, store.revision),
    h('td', {}, time(store.created_ms)),
    h('td', {}, store.access || '')));
  const name = h('input', { name: 'store', required: true, pattern: '[A-Za-z0-9._-]+', autocomplete: 'off' });
  const owner = h('input', { name: 'owner', autocomplete: 'off', placeholder: 'organization-scoped when empty' });
  const status = h('div', {});
  const create = h('form', { class: 'panel', 'aria-label': 'Create a store' },
    h('h2', {}, 'New store'),
    h('div', { class: 'row' }, field('Name', name), field('Owner (user)', owner)),
    h('button', { type: 'submit' }, 'Create store'), status);
  create.addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      const store = await api.createStore(name.value.trim(), owner.value.trim() || undefined);
      notify('Created store ' + store.name);
      location.hash = href(store.name, 'files', '/');
    } catch (error) {
      replace(status, errorBox(error));
    }
  });
  replace(main,
    h('h1', {}, 'Stores', session.org ? h('span', { class: 'muted' }, ' in ' + session.org) : ''),
    list.stores.length
      ? table(['Store', 'Scope', 'Owner', 'Files', 'Size', 'Revision', 'Created', 'Your access'], rows, { id: 'stores' })
      : h('p', { class: 'muted' }, 'No store you can see.'),
    create);
}

// The store's header: its name, numbers and the store's tabs (those that
// need store admin access only for those who have it).
export function storeHeader(info, active) {
  const admin = info.access !== 'read' && info.access !== 'write';
  const tabs = admin
    ? [['files', 'Files', '/'], ['rollback', 'Rollback'], ['redact', 'Redact']]
    : [['files', 'Files', '/']];
  return h('div', { class: 'store-head' },
    h('h1', {}, h('a', { href: '#/stores' }, 'Stores'), ' / ', info.name),
    h('p', { class: 'muted', id: 'store-meta' },
      (info.owner ? 'user store of ' + info.owner : 'organization store') +
      ' · ' + info.file_count + ' files · ' + bytes(info.bytes_total) + ' · revision ' + info.revision),
    h('nav', { class: 'tabs', 'aria-label': 'Store' },
      tabs.map(([view, label, path]) => h('a', {
        href: href(info.name, view, path || ''),
        'aria-current': view === active ? 'page' : false,
      }, label)),
      h('a', { href: '#/audit?store=' + encodeURIComponent(info.name) }, 'Audit'),
      admin ? h('a', { href: '#/admin?store=' + encodeURIComponent(info.name) }, 'Grants') : '',
      !admin ? '' : h('button', {
        type: 'button', class: 'link danger', onclick: async () => {
          const typed = prompt('Delete store ' + info.name + ' and every file in it? Type its name to confirm.');
          if (typed !== info.name) return;
          try {
            await api.deleteStore(info.name);
            notify('Deleted store ' + info.name);
            location.hash = '#/stores';
          } catch (error) {
            notify(errorText(error), 'error');
          }
        },
      }, 'Delete store')));
}
