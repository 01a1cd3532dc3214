// The cluster as this node sees it (`GET /v1/admin/status`, operator only),
// refreshed every REFRESH_MS while the page is open: each member's role,
// region, address and, on the leader, its matched index and lag.

import { api } from './api.js';
import { h, replace, table, errorBox } from './dom.js';
import { register } from './live.js';

const REFRESH_MS = 2000;

export async function render(main) {
  const box = h('div', { id: 'cluster' });
  const stamp = h('p', { class: 'muted', 'aria-live': 'off' });
  replace(main, h('h1', {}, 'Cluster'), stamp, box);
  let timer = null;
  let stopped = false;
  register(() => { stopped = true; if (timer) clearTimeout(timer); });

  async function refresh() {
    try {
      show(await api.status());
      stamp.textContent = 'Refreshed ' + new Date().toLocaleTimeString() + ', every ' + REFRESH_MS / 1000 + ' s.';
    } catch (error) {
      replace(box, errorBox(error));
    }
    if (!stopped) timer = setTimeout(refresh, REFRESH_MS);
  }

  function show(status) {
    const last = status.last_log_index || 0;
    const ids = Object.keys(status.nodes).map(Number).sort((a, b) => a - b);
    const rows = ids.map((id) => {
      const node = status.nodes[id];
      const role = id === status.current_leader ? 'leader'
        : status.learners.includes(id) ? 'learner' : status.voters.includes(id) ? 'follower' : 'other';
      const matched = status.matched ? status.matched[id] : undefined;
      return h('tr', { dataset: { node: id } },
        h('td', { class: 'num' }, id + (id === status.node_id ? ' (this node)' : '')),
        h('td', {}, role),
        h('td', {}, (node.tags && node.tags.region) || '—'),
        h('td', {}, node.api_addr),
        h('td', {}, node.raft_addr),
        h('td', { class: 'num' }, matched === undefined || matched === null ? '—' : matched),
        h('td', { class: 'num' }, matched === undefined || matched === null ? '—' : Math.max(0, last - matched)));
    });
    replace(box,
      h('dl', { class: 'meta' },
        h('dt', {}, 'This node'), h('dd', {}, status.node_id + ' (' + status.state + ')'),
        h('dt', {}, 'Term'), h('dd', { id: 'term' }, status.current_term),
        h('dt', {}, 'Leader'), h('dd', {}, status.current_leader === null || status.current_leader === undefined ? 'none known' : status.current_leader),
        h('dt', {}, 'Last log'), h('dd', {}, status.last_log_index ?? '—'),
        h('dt', {}, 'Committed'), h('dd', {}, status.committed_index ?? '—'),
        h('dt', {}, 'Applied'), h('dd', { id: 'applied' }, status.last_applied ?? '—'),
        h('dt', {}, 'Snapshot'), h('dd', {}, status.snapshot_index ?? '—'),
        h('dt', {}, 'Staleness'), h('dd', {}, status.staleness_ms === null || status.staleness_ms === undefined ? 'unknown' : status.staleness_ms + ' ms')),
      table(['Node', 'Role', 'Region', 'API address', 'Raft address', 'Matched index', 'Lag (entries)'], rows, { id: 'members' }),
      status.state === 'Leader' ? '' : h('p', { class: 'muted' }, 'Matched indexes and lag are known on the leader; open its console for them.'));
  }
  await refresh();
}
