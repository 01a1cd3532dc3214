// Small DOM helpers: elements from data (never from HTML strings, so no
// text from the API is ever parsed as markup), formatting, notices.

export function h(tag, attributes, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      element.addEventListener(name.slice(2), value);
    } else if (name === 'dataset') {
      Object.assign(element.dataset, value);
    } else if (name === 'value' || name === 'checked') {
      element[name] = value;
    } else {
      element.setAttribute(name, value === true ? '' : String(value));
    }
  }
  append(element, children);
  return element;
}

export function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

export function replace(element, ...children) {
  element.replaceChildren();
  return append(element, children);
}

export function time(ms) {
  if (ms === undefined || ms === null) return '';
  const date = new Date(ms);
  return date.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

export function bytes(count) {
  if (count === undefined || count === null) return '';
  if (count < 1024) return count + ' B';
  if (count < 1024 * 1024) return (count / 1024).toFixed(1) + ' KiB';
  if (count < 1024 * 1024 * 1024) return (count / 1024 / 1024).toFixed(1) + ' MiB';
  return (count / 1024 / 1024 / 1024).toFixed(1) + ' GiB';
}

// A notice at the top of the page; errors stay until dismissed.
export function notify(message, kind = 'info') {
  const box = document.getElementById('notices');
  const notice = h('div', { class: 'notice ' + kind, role: kind === 'error' ? 'alert' : 'status', dataset: { at: Date.now() } },
    h('span', {}, message),
    h('button', { type: 'button', class: 'link', 'aria-label': 'Dismiss', onclick: () => notice.remove() }, '×'));
  // One information notice at a time: the newest says what just happened.
  if (kind !== 'error') for (const old of box.querySelectorAll('.notice:not(.error)')) old.remove();
  box.append(notice);
  if (kind !== 'error') setTimeout(() => notice.remove(), 6000);
  return notice;
}

// An error from the API as a readable line: its stable code and its detail.
export function errorText(error) {
  if (error && error.code) {
    const message = String(error.message || '');
    return message.startsWith(error.code) ? message : error.code + ': ' + message;
  }
  return String(error && error.message ? error.message : error);
}

// Drops information notices older than a moment when the page changes (a
// notice given just before a navigation stays); errors stay until dismissed.
export function clearOldNotices() {
  for (const notice of document.querySelectorAll('#notices .notice:not(.error)')) {
    if (Date.now() - Number(notice.dataset.at) > 1500) notice.remove();
  }
}

export function showError(error) {
  return notify(errorText(error), 'error');
}

// An inline error box inside a panel (for forms), with the code as a class.
export function errorBox(error) {
  const box = h('p', { class: 'error', role: 'alert', dataset: { code: error.code || '' } }, errorText(error));
  requestAnimationFrame(() => box.scrollIntoView({ block: 'nearest' }));
  return box;
}

export function table(headings, rows, attributes) {
  return h('div', { class: 'table-wrap' },
    h('table', attributes || {},
      h('thead', {}, h('tr', {}, headings.map((heading) => h('th', { scope: 'col' }, heading)))),
      rows instanceof HTMLTableSectionElement ? rows : h('tbody', {}, rows)));
}

export function field(label, input) {
  const id = input.id || ('f-' + Math.random().toString(36).slice(2));
  input.id = id;
  return h('div', { class: 'field' }, h('label', { for: id }, label), input);
}

// A unified diff as lines coloured by their first character.
export function diffView(text) {
  const lines = text.split('\n');
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  return h('pre', { class: 'diff', tabindex: 0, 'aria-label': 'Diff' },
    lines.map((line) => {
      let kind = 'same';
      if (line.startsWith('+++') || line.startsWith('---')) kind = 'head';
      else if (line.startsWith('@@')) kind = 'hunk';
      else if (line.startsWith('+')) kind = 'add';
      else if (line.startsWith('-')) kind = 'del';
      return h('span', { class: 'line ' + kind }, line + '\n');
    }));
}

export function link(href, text, attributes) {
  return h('a', Object.assign({ href }, attributes || {}), text);
}
