// The audit trail (`GET /v1/audit`) with its filters, paged by log index;
// a session links to everything it did; with a store chosen, its hash chain
// can be verified (`GET …/audit/verify`).

import { api } from './api.js';
import { h, replace, time, table, errorBox, field } from './dom.js';
import { sectionHref, href } from './router.js';

const FILTERS = ['store', 'session', 'agent', 'principal', 'path', 'since', 'until'];
const PAGE = 50;

// datetime-local ⇄ ms since the epoch (UTC, as the API counts).
function toMs(value) {
  if (!value) return undefined;
  const ms = Date.parse(value + 'Z');
  return Number.isNaN(ms) ? undefined : ms;
}
function fromMs(ms) {
  if (!ms) return '';
  return new Date(Number(ms)).toISOString().slice(0, 16);
}

export async function render(main, route) {
  const params = route.params;
  const inputs = {};
  for (const name of FILTERS) {
    const isTime = name === 'since' || name === 'until';
    inputs[name] = h('input', {
      name, type: isTime ? 'datetime-local' : 'text',
      value: isTime ? fromMs(params[name]) : (params[name] || ''),
      placeholder: name === 'principal' ? 'operator or ORG/USER' : name === 'path' ? 'needs a store' : '',
    });
  }
  const form = h('form', { class: 'panel filters', 'aria-label': 'Audit filters' },
    h('div', { class: 'row' }, FILTERS.map((name) => field(name[0].toUpperCase() + name.slice(1) + (name === 'since' || name === 'until' ? ' (UTC)' : ''), inputs[name]))),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary', id: 'audit-filter' }, 'Filter'),
      h('a', { href: '#/audit' }, 'Clear')));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const query = {};
    for (const name of FILTERS) {
      const value = inputs[name].value.trim();
      if (!value) continue;
      query[name] = name === 'since' || name === 'until' ? toMs(value) : value;
    }
    location.hash = sectionHref('audit', query);
  });

  const rows = h('tbody', {});
  const more = h('button', { type: 'button', hidden: true }, 'More events');
  const verifyBox = h('div', { id: 'verify' });
  let after;
  const query = {};
  for (const name of FILTERS) if (params[name]) query[name] = params[name];

  async function loadPage() {
    const page = await api.audit(Object.assign({}, query, { after, limit: PAGE }));
    for (const event of page.records) rows.append(row(event));
    after = page.next_after;
    more.hidden = !after;
    if (!rows.children.length) rows.append(h('tr', {}, h('td', { colspan: 9, class: 'muted' }, 'No event matches.')));
  }

  function row(event) {
    return h('tr', {},
      h('td', { class: 'num' }, event.log_index),
      h('td', {}, time(event.time_ms)),
      h('td', {}, event.operation),
      h('td', {}, event.store ? h('a', { href: sectionHref('audit', { store: event.store }) }, event.store) : (event.org || '')),
      h('td', { class: 'num' }, event.revision === null || event.revision === undefined ? '' : event.revision),
      h('td', {}, h('a', { href: sectionHref('audit', { principal: event.principal }) }, event.principal)),
      h('td', {}, event.agent ? h('a', { href: sectionHref('audit', { agent: event.agent }) }, event.agent) : ''),
      h('td', {}, event.session ? h('a', { href: sectionHref('audit', { session: event.session }), class: 'session' }, event.session) : ''),
      h('td', {}, event.changes.map((change) => h('div', {},
        change.op + ' ',
        event.store && !event.store_deleted && change.version
          ? h('a', { href: href(event.store, 'history', change.path) }, change.path)
          : change.path,
        change.version ? ' v' + change.version : '')),
        event.target ? h('div', { class: 'muted' }, event.target) : '',
        event.detail ? h('div', { class: 'muted' }, event.detail) : ''));
  }

  more.addEventListener('click', loadPage);
  const verify = params.store ? h('button', {
    type: 'button', id: 'verify-button', onclick: async () => {
      try {
        const result = await api.verify(params.store);
        replace(verifyBox, result.ok
          ? h('p', { class: 'ok', id: 'verify-result' }, 'Hash chain holds: ' + result.events + ' events, head ' + result.head_hash.slice(0, 16) + '…')
          : h('p', { class: 'error', id: 'verify-result', role: 'alert' },
            'Hash chain broken at log index ' + result.first_break.log_index + ': ' + result.first_break.reason));
      } catch (error) {
        replace(verifyBox, errorBox(error));
      }
    },
  }, 'Verify hash chain of ' + params.store) : '';

  replace(main, h('h1', {}, 'Audit trail'),
    params.session ? h('p', { class: 'banner' }, 'Everything session ' + params.session + ' did.') : '',
    form, h('div', { class: 'actions' }, verify), verifyBox,
    table(['Log index', 'When', 'Operation', 'Store', 'Revision', 'Principal', 'Agent', 'Session', 'Changes'], rows, { id: 'audit' }),
    more);
  try {
    await loadPage();
  } catch (error) {
    replace(rows, h('tr', {}, h('td', { colspan: 9 }, errorBox(error))));
  }
}
