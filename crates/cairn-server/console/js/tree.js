// The store's tree, loaded one directory at a time (`GET …/tree/{dir}?depth=1`),
// so a store of 100,000 files costs one listing per directory opened; a
// directory shows its first ENTRIES_SHOWN entries, then more on demand.

import { api } from './api.js';
import { h, replace, errorBox } from './dom.js';
import { href } from './router.js';

const ENTRIES_SHOWN = 200;

function name(path) {
  return path.slice(path.lastIndexOf('/') + 1);
}

// `selected`: the open file, whose directories are opened on load.
export function tree(store, { revision, selected }) {
  const root = h('ul', { class: 'tree', role: 'list', 'aria-label': 'Files' });
  const open = new Set();
  if (selected && selected !== '/') {
    const parts = selected.split('/').filter(Boolean);
    for (let index = 1; index < parts.length; index += 1) open.add('/' + parts.slice(0, index).join('/'));
  }

  async function load(list, dir) {
    replace(list, h('li', { class: 'muted' }, 'Loading…'));
    let listing;
    try {
      listing = await api.tree(store, dir, { depth: 1, revision });
    } catch (error) {
      replace(list, h('li', {}, errorBox(error)));
      return;
    }
    const entries = listing.entries.filter((entry) => entry.path !== dir);
    if (!entries.length) {
      replace(list, h('li', { class: 'muted' }, 'empty'));
      return;
    }
    replace(list);
    showFrom(list, entries, 0);
  }

  function showFrom(list, entries, start) {
    // The open file (or the directory holding it) is shown even when it
    // comes after the first ENTRIES_SHOWN.
    const wanted = entries.findIndex((entry) => entry.path === selected || open.has(entry.path));
    const end = Math.min(entries.length, Math.max(start + ENTRIES_SHOWN, wanted + 1));
    for (const entry of entries.slice(start, end)) list.append(item(entry));
    if (end < entries.length) {
      const more = h('li', {}, h('button', {
        type: 'button', class: 'link', onclick: () => { more.remove(); showFrom(list, entries, end); },
      }, 'Show ' + Math.min(ENTRIES_SHOWN, entries.length - end) + ' more of ' + (entries.length - end)));
      list.append(more);
    }
  }

  function item(entry) {
    if (entry.kind === 'file') {
      const link = h('a', {
        href: href(store, 'files', entry.path, { rev: revision }),
        class: 'file', 'aria-current': entry.path === selected ? 'page' : false,
        title: entry.path + ' · version ' + entry.version,
      }, name(entry.path));
      if (entry.path === selected) requestAnimationFrame(() => link.scrollIntoView({ block: 'nearest' }));
      return h('li', { dataset: { path: entry.path } }, link);
    }
    const children = h('ul', { role: 'list', hidden: true });
    const button = h('button', { type: 'button', class: 'dir', 'aria-expanded': 'false' }, name(entry.path) + '/');
    let loaded = false;
    const toggle = async () => {
      const expanded = button.getAttribute('aria-expanded') === 'true';
      button.setAttribute('aria-expanded', String(!expanded));
      children.hidden = expanded;
      if (!expanded && !loaded) {
        loaded = true;
        await load(children, entry.path);
      }
    };
    button.addEventListener('click', toggle);
    if (open.has(entry.path)) toggle();
    return h('li', { dataset: { path: entry.path } }, button, children);
  }

  // Arrow keys move between the visible entries; Right opens a directory,
  // Left closes it or goes up to the directory holding the entry.
  root.addEventListener('keydown', (event) => {
    const items = Array.from(root.querySelectorAll('a.file, button.dir'))
      .filter((item) => item.offsetParent !== null);
    const index = items.indexOf(document.activeElement);
    if (index < 0) return;
    const item = items[index];
    const expanded = item.getAttribute('aria-expanded');
    let target = null;
    if (event.key === 'ArrowDown') target = items[index + 1];
    else if (event.key === 'ArrowUp') target = items[index - 1];
    else if (event.key === 'Home') target = items[0];
    else if (event.key === 'End') target = items[items.length - 1];
    else if (event.key === 'ArrowRight' && expanded === 'false') item.click();
    else if (event.key === 'ArrowRight' && expanded === 'true') target = items[index + 1];
    else if (event.key === 'ArrowLeft' && expanded === 'true') item.click();
    else if (event.key === 'ArrowLeft') {
      const parent = item.closest('ul').closest('li');
      target = parent ? parent.querySelector('button.dir') : null;
    } else return;
    event.preventDefault();
    if (target) target.focus();
  });

  load(root, '/');
  return root;
}
