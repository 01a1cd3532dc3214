// Rollback: a file, a directory, the whole store or one session's or
// agent's writes, to a version or a revision. A preview (`dry_run`) lists
// what will change; only then can it be applied, as one new change.

import { api } from './api.js';
import { h, replace, table, errorBox, field, notify } from './dom.js';
import { storeHeader } from './stores.js';

export async function render(main, route) {
  const store = route.store;
  const info = await api.store(store);
  const params = route.params;
  const path = h('input', { name: 'path', value: params.path || '', placeholder: 'a file or directory; empty: the whole store' });
  const kind = h('select', { name: 'kind' },
    ['to_version', 'to_revision', 'session', 'agent'].map((value) => h('option', { value }, {
      to_version: 'to a version of the file', to_revision: 'to a store revision',
      session: "undo a session's writes", agent: "undo an agent's writes",
    }[value])));
  const initialKind = ['to_version', 'to_revision', 'session', 'agent'].find((name) => params[name]);
  if (initialKind) kind.value = initialKind;
  const target = h('input', { name: 'target', value: initialKind ? params[initialKind] : '', required: true });
  const force = h('input', { type: 'checkbox', name: 'force' });
  const preview = h('div', { id: 'rollback-preview' });
  const form = h('form', { class: 'panel', 'aria-label': 'Roll back' },
    h('h2', {}, 'Roll back'),
    h('div', { class: 'row' }, field('Path', path), field('What', kind), field('Version, revision, session or agent', target)),
    h('label', { class: 'check' }, force, ' Also undo later changes by others (force)'),
    h('div', { class: 'actions' }, h('button', { type: 'submit', id: 'rollback-preview-button' }, 'Preview')),
    preview);

  function request(dryRun) {
    const body = { dry_run: dryRun, force: force.checked };
    if (path.value.trim()) body.path = path.value.trim();
    const value = target.value.trim();
    body[kind.value] = kind.value === 'to_version' || kind.value === 'to_revision' ? Number(value) : value;
    return body;
  }

  function steps(result) {
    return result.steps.length
      ? table(['Path', 'Now', 'Becomes'], result.steps.map((step) => h('tr', {},
        h('td', {}, step.path),
        h('td', {}, step.current_version === null || step.current_version === undefined ? 'absent' : 'version ' + step.current_version),
        h('td', {}, step.restore_version === null || step.restore_version === undefined ? 'deleted' : 'version ' + step.restore_version))),
      { id: 'rollback-steps' })
      : h('p', { class: 'muted' }, 'Nothing to change.');
  }

  function conflicts(result) {
    if (!result.conflicts || !result.conflicts.length) return '';
    return [h('h3', {}, 'Later changes by others (the rollback refuses unless forced)'),
      table(['Path', 'Version', 'Agent', 'Session'], result.conflicts.map((conflict) => h('tr', {},
        h('td', {}, conflict.path), h('td', {}, conflict.version), h('td', {}, conflict.agent), h('td', {}, conflict.session))),
      { id: 'rollback-conflicts' })];
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    let planned;
    try {
      planned = await api.rollback(store, request(true));
    } catch (error) {
      replace(preview, errorBox(error));
      return;
    }
    const apply = h('button', { type: 'button', class: 'primary', id: 'rollback-apply', disabled: planned.steps.length === 0 },
      'Apply rollback (' + planned.steps.length + ' file' + (planned.steps.length === 1 ? '' : 's') + ')');
    const outcome = h('div', {});
    apply.addEventListener('click', async () => {
      apply.disabled = true;
      try {
        const done = await api.rollback(store, request(false));
        replace(outcome, h('p', { class: 'ok', id: 'rollback-done' },
          'Rolled back ' + done.steps.length + ' file(s) at revision ' + done.revision + '.'));
        notify('Rollback applied at revision ' + done.revision);
      } catch (error) {
        const paths = error.problem && error.problem.paths ? ' (' + error.problem.paths.join(', ') + ')' : '';
        replace(outcome, errorBox({ code: error.code, message: error.message + paths }));
      }
    });
    replace(preview, h('h3', {}, 'Preview at revision ' + planned.planned_at), steps(planned), conflicts(planned), apply, outcome);
    apply.focus();
  });
  replace(main, storeHeader(info, 'rollback'), form);
}
