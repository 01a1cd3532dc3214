// Redaction: one version's whole content, or every occurrence of a string
// under a path prefix, with a reason. The user confirms what will be removed
// for good; the answer lists what was removed and rewritten.

import { api } from './api.js';
import { h, replace, table, errorBox, field, notify } from './dom.js';
import { storeHeader } from './stores.js';

export async function render(main, route) {
  const store = route.store;
  const info = await api.store(store);
  const params = route.params;
  const mode = h('select', { name: 'mode', id: 'redact-mode' },
    h('option', { value: 'version' }, 'a version of a file'),
    h('option', { value: 'string' }, 'a string, wherever it occurs'));
  if (params.string) mode.value = 'string';
  const path = h('input', { name: 'path', value: params.path || '' });
  const version = h('input', { name: 'version', type: 'number', min: 1, value: params.version || '' });
  const text = h('input', { name: 'string', autocomplete: 'off', spellcheck: 'false' });
  const prefix = h('input', { name: 'path_prefix', placeholder: '/ (every file)' });
  const reason = h('input', { name: 'reason', required: true, placeholder: 'why this must go' });
  const confirmBox = h('input', { type: 'checkbox', name: 'confirm', required: true });
  const versionFields = h('div', { class: 'row' }, field('Path', path), field('Version', version));
  const stringFields = h('div', { class: 'row' }, field('String', text), field('Only under path prefix', prefix));
  const outcome = h('div', { id: 'redact-outcome' });
  const showMode = () => {
    versionFields.hidden = mode.value !== 'version';
    stringFields.hidden = mode.value !== 'string';
  };
  mode.addEventListener('change', showMode);
  showMode();
  const form = h('form', { class: 'panel', 'aria-label': 'Redact' },
    h('h2', {}, 'Redact'),
    h('p', {}, 'Redaction removes content for good, from every replica, its snapshots and its Raft log. ' +
      'The versions stay in the history, marked redacted, and the audit trail records who did it and why.'),
    field('Remove', mode), versionFields, stringFields, field('Reason', reason),
    h('label', { class: 'check' }, confirmBox, ' I understand this cannot be undone'),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'danger', id: 'redact-submit' }, 'Redact')),
    outcome);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const body = { reason: reason.value.trim() };
    if (mode.value === 'version') {
      body.path = path.value.trim();
      body.version = Number(version.value);
    } else {
      body.string = text.value;
      if (prefix.value.trim()) body.path_prefix = prefix.value.trim();
    }
    try {
      const result = await api.redact(store, body);
      if (!result.versions.length) {
        replace(outcome, h('p', { class: 'ok', id: 'redact-done' }, 'Found nowhere: nothing changed.'));
        return;
      }
      replace(outcome,
        h('p', { class: 'ok', id: 'redact-done' }, 'Redacted at revision ' + result.revision + '.'),
        table(['Path', 'Version', 'Removed'], result.versions.map((removed) => h('tr', {},
          h('td', {}, removed.path), h('td', {}, removed.version),
          h('td', {}, removed.whole ? 'whole content' : removed.bytes + ' bytes of matches')))),
        result.rewritten.length
          ? [h('h3', {}, 'Live files rewritten without it'),
            table(['Path', 'New version'], result.rewritten.map((change) => h('tr', {},
              h('td', {}, change.path), h('td', {}, change.version))))]
          : '');
      text.value = '';
      confirmBox.checked = false;
      notify('Redaction done');
    } catch (error) {
      replace(outcome, errorBox(error));
    }
  });
  replace(main, storeHeader(info, 'redact'), form);
}
