// Live updates for an open store. The watch feed
// (`GET /v1/stores/{store}/watch?from_revision=R`, server-sent events with
// revision, paths, operation, versions, agent and session; resumable with
// `Last-Event-ID`) is read with fetch, since EventSource cannot send the
// bearer token. A node without the feed answers 404 (`no route`): the
// console then polls the store's revision every POLL_MS instead.

import { headers, api } from './api.js';

const POLL_MS = 3000;
const RECONNECT_MS = 2000;
const running = new Set();

export function stopAll() {
  for (const stop of running) stop();
  running.clear();
}

// Calls `onChange({revision, paths, agent, session})` for each change after
// `fromRevision`; `paths` is null when only the revision is known (polling).
export function watchStore(store, fromRevision, onChange) {
  let stopped = false;
  let controller = null;
  let timer = null;
  let lastRevision = fromRevision;
  let lastEventId = null;
  const stop = () => {
    stopped = true;
    if (controller) controller.abort();
    if (timer) clearTimeout(timer);
  };
  running.add(stop);

  const deliver = (event) => {
    if (stopped || !event.revision || event.revision <= lastRevision) return;
    lastRevision = event.revision;
    onChange(event);
  };

  async function poll() {
    if (stopped) return;
    try {
      const info = await api.store(store);
      deliver({ revision: info.revision, paths: null });
    } catch (_) { /* a failed poll is tried again */ }
    if (!stopped) timer = setTimeout(poll, POLL_MS);
  }

  async function stream() {
    if (stopped) return;
    controller = new AbortController();
    const extra = { Accept: 'text/event-stream' };
    if (lastEventId) extra['Last-Event-ID'] = lastEventId;
    let response;
    try {
      response = await fetch('/v1/stores/' + encodeURIComponent(store) + '/watch?from_revision=' + encodeURIComponent(lastRevision),
        { headers: headers(extra), signal: controller.signal, cache: 'no-store' });
    } catch (_) {
      if (!stopped) timer = setTimeout(stream, RECONNECT_MS);
      return;
    }
    const type = response.headers.get('Content-Type') || '';
    if (!response.ok || !type.startsWith('text/event-stream') || !response.body) {
      // No feed on this node (or not for this caller): poll instead.
      poll();
      return;
    }
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, '\n');
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          handleBlock(block);
        }
      }
    } catch (_) { /* reconnect below */ }
    if (!stopped) timer = setTimeout(stream, RECONNECT_MS);
  }

  function handleBlock(block) {
    let name = 'message';
    let data = '';
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'id') lastEventId = value;
      else if (field === 'event') name = value;
      else if (field === 'data') data += (data ? '\n' : '') + value;
    }
    if (!data || name === 'heartbeat') return;
    let event;
    try { event = JSON.parse(data); } catch (_) { return; }
    const paths = Array.isArray(event.paths) ? event.paths
      : Array.isArray(event.changes) ? event.changes.map((change) => change.path) : null;
    deliver({ revision: Number(event.revision), paths, agent: event.agent, session: event.session });
  }

  stream();
  return stop;
}

// Registers a stop function run when the page changes (timers of a view).
export function register(stop) {
  running.add(stop);
}
