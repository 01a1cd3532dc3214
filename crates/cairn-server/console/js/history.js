// A file's history, newest first and paged (`next_before`), with a diff
// between any two versions, the content of any version, and links to roll
// the file back to a version or redact one.

import { api } from './api.js';
import { h, replace, time, bytes, errorBox, diffView } from './dom.js';
import { href } from './router.js';
import { storeHeader } from './stores.js';

const PAGE = 50;

export async function render(main, route) {
  const store = route.store;
  const path = route.path;
  const info = await api.store(store);
  const rows = h('tbody', {});
  const output = h('div', { id: 'history-output' });
  const more = h('button', { type: 'button', hidden: true }, 'Older versions');
  let before;


  async function loadPage() {
    const page = await api.history(store, path, { limit: PAGE, before });
    for (const version of page.versions) {

      rows.append(row(version));
    }
    before = page.next_before;
    more.hidden = !before;
  }

  function row(version) {
    const redacted = version.redaction && version.redaction.whole;
    return h('tr', { dataset: { version: version.version } },
      h('td', {}, h('input', { type: 'radio', name: 'from', value: version.version, 'aria-label': 'Diff from version ' + version.version })),
      h('td', {}, h('input', { type: 'radio', name: 'to', value: version.version, 'aria-label': 'Diff to version ' + version.version })),
      h('td', { class: 'num' }, version.version),
      h('td', {}, version.op + (version.renamed_from ? ' from ' + version.renamed_from : '') +
        (version.renamed_to ? ' to ' + version.renamed_to : '')),
      h('td', {}, time(version.time_ms)),
      h('td', {}, version.agent),
      h('td', {}, version.session
        ? h('a', { href: '#/audit?session=' + encodeURIComponent(version.session) }, version.session) : ''),
      h('td', { class: 'num' }, bytes(version.bytes)),
      h('td', {}, version.redaction ? h('span', { class: 'badge' }, 'redacted: ' + version.redaction.reason) : ''),
      h('td', {}, h('div', { class: 'actions tight' },
        version.op === 'delete' || redacted ? '' : h('button', {
          type: 'button', class: 'link', onclick: () => showVersion(version.version),
        }, 'View'),
        h('a', { href: href(store, 'rollback', '', { path, to_version: version.version }) }, 'Roll back to'),
        version.op === 'delete' || redacted ? '' : h('a', { href: href(store, 'redact', '', { path, version: version.version }) }, 'Redact'))));
  }

  async function showVersion(version) {
    try {
      const content = await api.read(store, path, { version });
      replace(output, h('h3', {}, 'Version ' + version), h('pre', { class: 'content', tabindex: 0 }, content.text));
    } catch (error) {
      replace(output, errorBox(error));
    }
  }

  const form = h('div', { class: 'actions' },
    h('button', { type: 'submit', class: 'primary', id: 'diff' }, 'Diff selected versions'));
  const tableElement = h('div', { class: 'table-wrap' }, h('table', { id: 'history' },
    h('thead', {}, h('tr', {}, ['From', 'To', 'Version', 'Change', 'When', 'Agent', 'Session', 'Size', '', '']
      .map((heading) => h('th', { scope: 'col' }, heading)))), rows));
  const selection = h('form', { id: 'history-form', 'aria-label': 'Diff two versions' }, tableElement, form);
  selection.addEventListener('submit', async (event) => {
    event.preventDefault();
    const from = selection.querySelector('input[name=from]:checked');
    const to = selection.querySelector('input[name=to]:checked');
    if (!from || !to) {
      replace(output, h('p', { class: 'error', role: 'alert' }, 'Choose a version to diff from and one to diff to.'));
      return;
    }
    try {
      const text = await api.diff(store, path, from.value, to.value);
      replace(output, h('h3', {}, 'Version ' + from.value + ' → ' + to.value),
        text ? diffView(text) : h('p', { class: 'muted' }, 'No difference.'));
    } catch (error) {
      replace(output, errorBox(error));
    }
  });
  more.addEventListener('click', loadPage);

  replace(main, storeHeader(info, ''),
    h('h2', {}, 'History of ', h('a', { href: href(store, 'files', path) }, path)),
    selection, more, output);
  await loadPage();
  // The two newest versions are preselected, so Diff answers at once.
  const froms = selection.querySelectorAll('input[name=from]');
  const tos = selection.querySelectorAll('input[name=to]');
  if (froms.length > 1) froms[1].checked = true;
  if (tos.length) tos[0].checked = true;

}
