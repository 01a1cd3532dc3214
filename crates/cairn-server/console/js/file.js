// The store's files: the lazy tree beside the open file. A file shows its
// content, version and attribution; the editor saves with `If-Match` of the
// version it loaded, and a conflict (`412 version_conflict`) shows the other
// change and lets the user merge by hand or reload: never an overwrite the
// user did not choose. With `?rev=R` the tree and the file are the store as
// of revision R, read-only.

import { api } from './api.js';
import { h, replace, time, bytes, errorBox, notify, diffView, field, errorText } from './dom.js';
import { href } from './router.js';
import { storeHeader } from './stores.js';
import { tree } from './tree.js';
import { watchStore } from './live.js';
import { merge3 } from './merge.js';

export async function render(main, route) {
  const store = route.store;
  const revision = route.params.rev ? Number(route.params.rev) : undefined;
  const info = await api.store(store);
  const viewer = h('section', { class: 'viewer', 'aria-label': 'File' });
  const revisionInput = h('input', { type: 'number', min: 1, max: info.revision, name: 'rev', value: revision || '', placeholder: String(info.revision) });
  const revisionForm = h('form', { class: 'inline', 'aria-label': 'Tree at a revision' },
    field('Tree at revision', revisionInput), h('button', { type: 'submit' }, 'Show'));
  revisionForm.addEventListener('submit', (event) => {
    event.preventDefault();
    location.hash = href(store, 'files', route.path === '/' ? '/' : route.path, { rev: revisionInput.value });
  });
  const aside = h('aside', { class: 'side' },
    revision
      ? h('p', { class: 'banner', id: 'past' }, 'Revision ' + revision + ' (read-only). ',
        h('a', { href: href(store, 'files', route.path) }, 'Back to now'))
      : '',
    revisionForm,
    revision || info.access === 'read' ? '' : h('button', { type: 'button', id: 'new-file', onclick: () => newFile(store) }, 'New file'),
    tree(store, { revision, selected: route.path }));
  replace(main, storeHeader(info, 'files'), h('div', { class: 'split' }, aside, viewer));
  if (route.path === '/') {
    replace(viewer, h('p', { class: 'muted' }, 'Choose a file in the tree.'));
    return;
  }
  await showFile(viewer, store, route.path, revision, info.access);
}

function newFile(store) {
  const path = prompt('Path of the new file (for example /memories/notes.md)');
  if (!path) return;
  const clean = path.startsWith('/') ? path : '/' + path;
  api.write(store, clean, '', null).then(() => {
    notify('Created ' + clean);
    location.hash = href(store, 'files', clean);
  }, (error) => notify(errorText(error), 'error'));
}

function attribution(meta) {
  return h('dl', { class: 'meta', id: 'file-meta' },
    h('dt', {}, 'Version'), h('dd', { id: 'file-version' }, meta.version),
    h('dt', {}, 'Size'), h('dd', {}, bytes(meta.bytes)),
    h('dt', {}, 'Change'), h('dd', {}, meta.op),
    h('dt', {}, 'When'), h('dd', {}, time(meta.time_ms)),
    h('dt', {}, 'Agent'), h('dd', {}, meta.agent || '—'),
    h('dt', {}, 'Session'), h('dd', {}, meta.session
      ? h('a', { href: '#/audit?session=' + encodeURIComponent(meta.session) }, meta.session) : '—'),
    meta.redaction ? [h('dt', {}, 'Redacted'), h('dd', {}, meta.redaction.reason)] : '');
}

// `access` is the caller's (`read`, `write` or `admin`): a reader gets the
// content without an editor, and only an admin the rollback and redaction
// links; the API refuses the rest anyway.
async function showFile(viewer, store, path, revision, access) {
  let meta;
  let content;
  try {
    meta = await api.stat(store, path, { revision });
    content = await api.read(store, path, { revision });
  } catch (error) {
    replace(viewer, h('h2', {}, path), errorBox(error));
    return;
  }
  const admin = access !== 'read' && access !== 'write';
  const links = h('p', { class: 'actions' },
    h('a', { href: href(store, 'history', path) }, 'History'),
    admin ? h('a', { href: href(store, 'rollback', '', { path }) }, 'Roll back…') : '',
    admin ? h('a', { href: href(store, 'redact', '', { path }) }, 'Redact…') : '');
  if (revision || access === 'read') {
    replace(viewer, h('h2', {}, path),
      revision ? '' : h('p', { class: 'banner', id: 'read-only' }, 'Read-only: your access to this store is read.'),
      attribution(meta), links,
      h('pre', { class: 'content', tabindex: 0, id: 'content' }, content.text));
    return;
  }
  // The version the editor's text is based on; a save sends it as If-Match.
  let base = { version: content.version, text: content.text };
  const editor = h('textarea', { id: 'editor', spellcheck: 'false', 'aria-label': 'Content of ' + path }, content.text);
  const status = h('div', { id: 'save-status' });
  const conflict = h('div', { id: 'conflict-box' });
  const live = h('div', { id: 'live-box', 'aria-live': 'polite' });
  const metaBox = h('div', {}, attribution(meta));
  const save = h('button', { type: 'button', class: 'primary', id: 'save' }, 'Save');
  const revert = h('button', { type: 'button', id: 'revert' }, 'Discard edits');
  const remove = h('button', { type: 'button', class: 'danger', id: 'delete' }, 'Delete');

  async function refreshMeta() {
    try {
      replace(metaBox, attribution(await api.stat(store, path)));
    } catch (_) { /* the notice says what happened */ }
  }

  async function doSave() {
    replace(status);
    save.disabled = true;
    try {
      const written = await api.write(store, path, editor.value, base.version);
      base = { version: written.version, text: editor.value };
      replace(conflict);
      replace(live);
      await refreshMeta();
      replace(status, h('p', { class: 'ok' }, 'Saved as version ' + written.version + '.'));
    } catch (error) {
      if (error.code === 'version_conflict') await showConflict(error);
      else replace(status, errorBox(error));
    } finally {
      save.disabled = false;
    }
  }

  // Someone else's version won: show it and what changed from ours.
  async function showConflict() {
    let theirs = null;
    try {
      theirs = await api.read(store, path);
    } catch (error) {
      if (error.code !== 'not_found') throw error;
    }
    const theirMeta = theirs ? await api.stat(store, path) : null;
    const change = theirs
      ? diffView(await api.diff(store, path, base.version, theirs.version).catch((error) => errorText(error)))
      : h('p', {}, 'The file was deleted.');
    replace(conflict, h('div', { class: 'conflict', role: 'alert', id: 'conflict' },
      h('h3', {}, 'Not saved: someone else changed this file'),
      h('p', {}, theirs
        ? 'Version ' + theirs.version + ' was written by ' + (theirMeta.agent || 'an unnamed agent') +
          (theirMeta.session ? ' (session ' + theirMeta.session + ')' : '') + ' at ' + time(theirMeta.time_ms) +
          ', after the version ' + base.version + ' you started from. Your text is still in the editor.'
        : 'It was deleted after the version ' + base.version + ' you started from. Your text is still in the editor.'),
      h('h4', {}, 'Their change'), change,
      theirs ? [h('h4', {}, 'Their text'), h('pre', { class: 'content', id: 'their-text', tabindex: 0 }, theirs.text)] : '',
      h('div', { class: 'actions' },
        h('button', {
          type: 'button', id: 'conflict-reload', onclick: () => {
            if (theirs) {
              base = { version: theirs.version, text: theirs.text };
              editor.value = theirs.text;
            }
            replace(conflict);
            refreshMeta();
            notify('Reloaded version ' + (theirs ? theirs.version : '') + '; your edit was discarded.');
          },
        }, 'Reload theirs (discard my edit)'),
        theirs ? h('button', {
          type: 'button', id: 'conflict-auto-merge', onclick: () => {
            const merged = merge3(base.text, editor.value, theirs.text, 'version ' + theirs.version);
            if (!merged) {
              notify('Too long to merge here: merge by hand.', 'error');
              return;
            }
            base = { version: theirs.version, text: theirs.text };
            editor.value = merged.text;
            replace(conflict, h('p', { class: 'banner', id: 'merging' },
              merged.conflicts
                ? 'Merged with version ' + theirs.version + ': ' + merged.conflicts +
                  ' region(s) changed on both sides are marked <<<<<<< yours … ======= … >>>>>>>. Settle them, then Save.'
                : 'Merged with version ' + theirs.version + ': no overlapping change. Review the text, then Save.'),
            h('h4', {}, 'Their change'), change);
            refreshMeta();
            editor.focus();
          },
        }, 'Merge automatically') : '',
        theirs ? h('button', {
          type: 'button', id: 'conflict-merge', onclick: () => {
            base = { version: theirs.version, text: theirs.text };
            replace(conflict, h('p', { class: 'banner', id: 'merging' },
              'Merging: your text is now based on version ' + theirs.version +
              '. Bring their change into it, then Save.'), h('h4', {}, 'Their change'), change);
            refreshMeta();
            editor.focus();
          },
        }, 'Merge by hand (keep my text, base it on theirs)') : '')));
    conflict.querySelector('button').focus({ preventScroll: true });
    conflict.scrollIntoView({ block: 'start' });
  }

  save.addEventListener('click', doSave);
  editor.addEventListener('keydown', (event) => {
    if ((event.ctrlKey || event.metaKey) && event.key === 's') {
      event.preventDefault();
      doSave();
    }
  });
  revert.addEventListener('click', () => { editor.value = base.text; replace(status); });
  remove.addEventListener('click', async () => {
    if (!confirm('Delete ' + path + '? Its history stays.')) return;
    try {
      await api.remove(store, path, base.version);
      notify('Deleted ' + path);
      location.hash = href(store, 'files', '/');
    } catch (error) {
      replace(status, errorBox(error));
    }
  });

  replace(viewer, h('h2', {}, path), metaBox, links, live, conflict,
    editor, h('div', { class: 'actions' }, save, revert, remove), status);

  // A change by someone else while the file is open shows a notice.
  watchStore(store, content.revision, async (event) => {
    if (event.paths && !event.paths.includes(path)) return;
    let now;
    try {
      now = await api.stat(store, path);
    } catch (error) {
      if (error.code === 'not_found') {
        replace(live, h('p', { class: 'banner', id: 'live-notice' }, 'This file was deleted by someone else.'));
      }
      return;
    }
    if (now.version === base.version) return;
    replace(live, h('p', { class: 'banner', id: 'live-notice' },
      'Changed while open: version ' + now.version + ' by ' + (now.agent || 'an unnamed agent') +
      (now.session ? ' (session ' + now.session + ')' : '') + '. ',
      h('button', { type: 'button', class: 'link', onclick: () => showConflict() }, 'Show their change'),
      editor.value === base.text
        ? h('button', {
          type: 'button', class: 'link', onclick: async () => {
            const fresh = await api.read(store, path);
            base = { version: fresh.version, text: fresh.text };
            editor.value = fresh.text;
            replace(live);
            refreshMeta();
          },
        }, 'Reload')
        : ''));
  });
}
