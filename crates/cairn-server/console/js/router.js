// Hash routes: `#/stores`, `#/s/STORE/files/PATH?rev=R`,
// `#/s/STORE/history/PATH`, `#/s/STORE/rollback`, `#/s/STORE/redact`,
// `#/audit?…`, `#/admin`, `#/cluster`, `#/signin`. The token never enters
// a URL; only names, paths and filters do.

export function parse(hash) {
  const text = (hash || '').replace(/^#/, '') || '/stores';
  const [pathPart, queryPart] = text.split('?');
  const segments = pathPart.split('/').filter((segment, index) => index > 0 || segment !== '');
  const params = Object.fromEntries(new URLSearchParams(queryPart || ''));
  if (segments[0] === 's' && segments.length >= 3) {
    const store = decodeURIComponent(segments[1]);
    const view = segments[2];
    const rest = segments.slice(3).map(decodeURIComponent).join('/');
    return { section: 'stores', view, store, path: rest ? '/' + rest : '/', params };
  }
  return { section: segments[0] || 'stores', view: segments[0] || 'stores', params };
}

export function href(store, view, path, params) {
  let text = '#/s/' + encodeURIComponent(store) + '/' + view;
  if (path && path !== '/') text += path.split('/').map(encodeURIComponent).join('/');
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params || {})) {
    if (value !== undefined && value !== null && value !== '') search.set(name, String(value));
  }
  const query = search.toString();
  return query ? text + '?' + query : text;
}

export function sectionHref(section, params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params || {})) {
    if (value !== undefined && value !== null && value !== '') search.set(name, String(value));
  }
  const query = search.toString();
  return '#/' + section + (query ? '?' + query : '');
}
