// The console end to end, in Debian's headless Chromium driven by
// playwright-core, against a real node that scripts/console-e2e.sh started
// and seeded. Each step is one story: what a person does in the console,
// then what the API says happened (the API is the oracle, not the page).
//
// Environment: CAIRN_URL, OPERATOR_TOKEN, READER_TOKEN, STORE,
// PLAYWRIGHT_DIR (where playwright-core is installed), SCREENSHOTS (dir),
// CHROMIUM (default /usr/bin/chromium).

import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { mkdirSync } from 'node:fs';
import path from 'node:path';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error('missing environment variable ' + name);
  return value;
};
const base = env('CAIRN_URL');
const operatorToken = env('OPERATOR_TOKEN');
const readerToken = env('READER_TOKEN');
const store = env('STORE');
const screenshots = env('SCREENSHOTS');
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const require = createRequire(path.join(env('PLAYWRIGHT_DIR'), 'package.json'));
const { chromium } = require('playwright-core');

mkdirSync(screenshots, { recursive: true });
const PREFERENCES = '/memories/customer-acme/preferences.md';
const CONTACTS = '/memories/customer-acme/contacts.md';
const TIMEOUT_MS = 15000;

// The API, as a second client beside the browser.
async function apiCall(method, route, { body, headers } = {}) {
  const response = await fetch(base + route, {
    method,
    body,
    headers: Object.assign({ Authorization: 'Bearer ' + operatorToken }, headers || {}),
  });
  const text = await response.text();
  return { status: response.status, text, headers: response.headers };
}
async function content(filePath) {
  const answer = await apiCall('GET', '/v1/stores/' + store + '/files' + filePath);
  assert.equal(answer.status, 200, 'read ' + filePath + ': ' + answer.text);
  return { text: answer.text, version: Number(answer.headers.get('x-cairn-version')) };
}

// Playwright starts Chromium with a fresh, empty --user-data-dir of its own
// (a temporary directory it removes at close). The background-networking
// flags keep Chromium from dialing Google's hosts, which a closed network
// refuses.
const browser = await chromium.launch({
  executablePath: chromiumPath,
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});

const problems = [];
const pages = [];
async function newPage(viewport) {
  const context = await browser.newContext({ viewport: viewport || { width: 1280, height: 800 } });
  const page = await context.newPage();
  pages.push(page);
  page.setDefaultTimeout(TIMEOUT_MS);
  page.on('pageerror', (error) => problems.push('page error: ' + error.message));
  page.on('console', (message) => {
    const text = message.text();
    // A refused request (4xx) is logged by Chromium as a failed resource;
    // the steps below provoke some on purpose. Anything else is a fault.
    if (message.type() === 'error' && !/Failed to load resource/.test(text)) problems.push('console: ' + text);
  });
  // Nothing may leave for another origin.
  page.on('request', (request) => {
    if (!request.url().startsWith(base)) problems.push('request to another origin: ' + request.url());
  });
  return page;
}

const steps = [];
function step(name, run) {
  steps.push({ name, run });
}
async function shot(page, name) {
  await page.screenshot({ path: path.join(screenshots, name + '.png'), fullPage: false });
}

async function signIn(page, token) {
  await page.goto(base + '/console');
  await page.locator('#token').fill(token);
  await page.keyboard.press('Enter');
  await page.locator('#principal').waitFor();
  // Signing in ends by showing the stores (after the header's organizations
  // load); a navigation started before that would be overridden by it.
  await page.waitForFunction(() => location.hash === '#/stores');
  await page.locator('#stores').waitFor();
}

async function openFile(page, filePath) {
  await page.goto(base + '/console#/s/' + store + '/files' + filePath);
  // A fresh load, even when the page showed this file already.
  await page.reload();
  await page.locator('#editor').waitFor();
}

let page;

step('sign in with a token kept in session storage, never in the URL', async () => {
  page = await newPage();
  const response = await page.goto(base + '/console');
  assert.match(response.headers()['content-security-policy'], /script-src 'self'/);
  await page.locator('#token').waitFor();
  await shot(page, 'signin');
  await page.locator('#token').fill('cairn_0000000000000000_' + '0'.repeat(64));
  await page.keyboard.press('Enter');
  await page.locator('form .error[data-code="unauthenticated"]').waitFor();
  await signIn(page, operatorToken);
  assert.equal(await page.locator('#principal').textContent(), 'operator');
  assert.equal(await page.evaluate(() => sessionStorage.getItem('cairn.console.token')), operatorToken);
  assert.equal(await page.evaluate(() => localStorage.length), 0);
  assert.ok(!page.url().includes(operatorToken));
});

step('stores list with scope, size and revision', async () => {
  const row = page.locator('#stores tr', { hasText: store });
  await row.waitFor();
  const cells = await row.locator('td').allTextContents();
  assert.equal(cells[0], store);
  assert.equal(cells[1], 'organization');
  assert.ok(Number(cells[3]) >= 4, 'file count ' + cells[3]);
  assert.equal(cells[7], 'admin');
  await shot(page, 'stores');
});

step('browse the tree lazily by keyboard and open a file', async () => {
  await page.locator('#stores a', { hasText: store }).click();
  const memories = page.locator('.tree button.dir', { hasText: 'memories/' });
  await memories.focus();
  await page.keyboard.press('Enter');
  const acme = page.locator('.tree button.dir', { hasText: 'customer-acme/' });
  await acme.click();
  // Arrow keys: down from customer-acme/ to its first file, then Enter.
  await acme.focus();
  await page.locator('.tree a', { hasText: 'contacts.md' }).waitFor();
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowDown');
  assert.equal(await page.evaluate(() => document.activeElement.textContent), 'preferences.md');
  await page.keyboard.press('Enter');
  await page.locator('#editor').waitFor();
  const expected = await content(PREFERENCES);
  assert.equal(await page.locator('#editor').inputValue(), expected.text);
  assert.equal(await page.locator('#file-version').textContent(), String(expected.version));
  // A directory of 300 files shows its first 200, then more on demand.
  await page.locator('.tree button.dir', { hasText: 'bulk/' }).click();
  await page.locator('.tree li[data-path="/bulk/file-0199.md"]').waitFor();
  assert.equal(await page.locator('.tree li[data-path="/bulk/file-0200.md"]').count(), 0);
  await page.locator('.tree button', { hasText: 'Show 100 more' }).click();
  await page.locator('.tree li[data-path="/bulk/file-0299.md"]').waitFor();
  await page.locator('.tree button.dir', { hasText: 'bulk/' }).click();
  await shot(page, 'file');
});

step('a file past the first 200 of its directory opens with the tree showing it', async () => {
  await openFile(page, '/bulk/file-0250.md');
  await page.locator('.tree a[aria-current="page"]', { hasText: 'file-0250.md' }).waitFor();
  assert.equal(await page.locator('#editor').inputValue(), 'bulk file 250\n');
  await page.locator('.tree button', { hasText: 'more of 49' }).waitFor();
  await openFile(page, PREFERENCES);
});

step('edit and save with If-Match', async () => {
  const before = await content(PREFERENCES);
  const text = before.text + 'Prefers email over phone.\n';
  await page.locator('#editor').fill(text);
  await page.locator('#save').click();
  await page.locator('#save-status .ok').waitFor();
  const after = await content(PREFERENCES);
  assert.equal(after.text, text);
  assert.ok(after.version > before.version);
  assert.equal(await page.locator('#file-version').textContent(), String(after.version));
});

step('a change made elsewhere shows a notice; a conflicting save overwrites nothing', async () => {
  await openFile(page, PREFERENCES);
  const loaded = await content(PREFERENCES);
  const theirs = loaded.text + 'Agent X: renewal due in March.\n';
  const written = await apiCall('PUT', '/v1/stores/' + store + '/files' + PREFERENCES, {
    body: theirs, headers: { 'X-Cairn-Agent': 'agent-x', 'X-Cairn-Session': 'session-x' },
  });
  assert.equal(written.status, 200, written.text);
  // The live notice (watch feed, or polling where there is none).
  await page.locator('#live-notice').waitFor();
  assert.match(await page.locator('#live-notice').textContent(), /agent-x/);
  const mine = loaded.text + 'Mine: prefers mornings.\n';
  await page.locator('#editor').fill(mine);
  await page.locator('#save').click();
  await page.locator('#conflict').waitFor();
  const box = await page.locator('#conflict').textContent();
  assert.match(box, /agent-x/);
  assert.match(box, /session-x/);
  assert.match(await page.locator('#conflict pre.diff').textContent(), /\+Agent X: renewal due in March\./);
  assert.equal(await page.locator('#their-text').textContent(), theirs);
  // Nothing was overwritten.
  assert.equal((await content(PREFERENCES)).text, theirs);
  await shot(page, 'conflict');

  // Reload: the editor holds their version.
  await page.locator('#conflict-reload').click();
  assert.equal(await page.locator('#editor').inputValue(), theirs);

  // A second conflict on other lines, merged automatically; the merge is
  // saved only when the user saves, based on their version.
  const theirs2 = theirs + 'Agent X again.\n';
  await apiCall('PUT', '/v1/stores/' + store + '/files' + PREFERENCES, {
    body: theirs2, headers: { 'X-Cairn-Agent': 'agent-x', 'X-Cairn-Session': 'session-x' },
  });
  await page.locator('#editor').fill(theirs.replace('# Acme preferences', '# Acme Corp preferences'));
  await page.locator('#save').click();
  await page.locator('#conflict-auto-merge').click();
  await page.locator('#merging', { hasText: 'no overlapping change' }).waitFor();
  const autoMerged = theirs2.replace('# Acme preferences', '# Acme Corp preferences');
  assert.equal(await page.locator('#editor').inputValue(), autoMerged);
  assert.equal((await content(PREFERENCES)).text, theirs2, 'nothing saved before Save');
  await page.locator('#save').click();
  await page.locator('#save-status .ok').waitFor();
  assert.equal((await content(PREFERENCES)).text, autoMerged);

  // A third, on the same line: merged by hand.
  const theirs3 = autoMerged + 'Agent X a third time.\n';
  await apiCall('PUT', '/v1/stores/' + store + '/files' + PREFERENCES, {
    body: theirs3, headers: { 'X-Cairn-Agent': 'agent-x', 'X-Cairn-Session': 'session-x' },
  });
  await page.locator('#editor').fill(autoMerged + 'Mine, merged.\n');
  await page.locator('#save').click();
  await page.locator('#conflict-merge').click();
  await page.locator('#merging').waitFor();
  const merged = theirs3 + 'Mine, merged.\n';
  await page.locator('#editor').fill(merged);
  await page.locator('#save').click();
  await page.locator('#save-status .ok').waitFor();
  assert.equal((await content(PREFERENCES)).text, merged);

  // The merge marks changes on both sides of one region.
  const overlap = await page.evaluate(async () => {
    const { merge3 } = await import('/console/js/merge.js');
    return merge3('a\nb\nc\n', 'a\nB1\nc\n', 'a\nB2\nc\nd\n', 'version 9');
  });
  assert.deepEqual(overlap, {
    text: 'a\n<<<<<<< yours\nB1\n=======\nB2\n>>>>>>> version 9\nc\nd\n', conflicts: 1,
  });
});

step('history and a diff between two versions', async () => {
  await page.goto(base + '/console#/s/' + store + '/history' + PREFERENCES);
  await page.locator('#history tbody tr').first().waitFor();
  const rows = await page.locator('#history tbody tr').count();
  assert.ok(rows >= 5, rows + ' versions');
  await page.locator('#diff').click();
  const diff = await page.locator('#history-output pre.diff').textContent();
  assert.match(diff, /^\+Mine, merged\.$/m);
  // Any two versions: the oldest to the newest.
  const oldest = await page.locator('#history tbody tr').last().getAttribute('data-version');
  await page.locator('#history tbody tr').last().locator('input[name=from]').check();
  await page.locator('#history tbody tr').first().locator('input[name=to]').check();
  await page.locator('#diff').click();
  await page.waitForFunction((from) => document.querySelector('#history-output h3')?.textContent.startsWith('Version ' + from + ' '), oldest);
  assert.match(await page.locator('#history-output pre.diff').textContent(), /\+Prefers email over phone\./);
  await shot(page, 'history');
});

step('the tree as of a past revision', async () => {
  const history = JSON.parse((await apiCall('GET', '/v1/stores/' + store + '/history' + PREFERENCES)).text);
  const first = history.versions[history.versions.length - 1];
  const original = await apiCall('GET', '/v1/stores/' + store + '/files' + PREFERENCES + '?version=' + first.version);
  await page.goto(base + '/console#/s/' + store + '/files' + PREFERENCES + '?rev=' + first.version);
  await page.locator('#past').waitFor();
  await page.locator('#content').waitFor();
  assert.equal(await page.locator('#content').textContent(), original.text);
  assert.equal(await page.locator('#editor').count(), 0, 'the past is read-only');
  // The directory added later is not in the tree of then.
  await page.locator('.tree button.dir', { hasText: 'memories/' }).waitFor();
  assert.equal(await page.locator('.tree button.dir', { hasText: 'bulk/' }).count(), 0);
});

step('a rollback with its preview', async () => {
  const history = JSON.parse((await apiCall('GET', '/v1/stores/' + store + '/history' + PREFERENCES)).text);
  const first = history.versions[history.versions.length - 1];
  const original = await apiCall('GET', '/v1/stores/' + store + '/files' + PREFERENCES + '?version=' + first.version);
  const before = await content(PREFERENCES);
  await page.goto(base + '/console#/s/' + store + '/history' + PREFERENCES);
  await page.locator('#history tbody tr').last().locator('a', { hasText: 'Roll back to' }).click();
  await page.locator('#rollback-preview-button').click();
  await page.locator('#rollback-steps').waitFor();
  const preview = await page.locator('#rollback-steps tbody').textContent();
  assert.match(preview, new RegExp('version ' + before.version));
  assert.match(preview, new RegExp('version ' + first.version));
  // The preview changed nothing.
  assert.equal((await content(PREFERENCES)).text, before.text);
  // Later changes by others (agent-x) make it refuse unless forced.
  await shot(page, 'rollback');
  await page.locator('input[name=force]').check();
  await page.locator('#rollback-preview-button').click();
  await page.locator('#rollback-apply').click();
  await page.locator('#rollback-done').waitFor();
  assert.equal((await content(PREFERENCES)).text, original.text);

  // A session's writes (the bulk loader's 300 files), previewed only.
  await page.goto(base + '/console#/s/' + store + '/rollback?session=session-3');
  assert.equal(await page.locator('select[name=kind]').inputValue(), 'session');
  await page.locator('#rollback-preview-button').click();
  await page.locator('#rollback-steps').waitFor();
  assert.equal(await page.locator('#rollback-steps tbody tr').count(), 300);
  assert.equal(await page.locator('#rollback-steps tbody tr', { hasText: 'deleted' }).count(), 300);
  assert.match(await page.locator('#rollback-apply').textContent(), /300 files/);
  const bulk = await apiCall('GET', '/v1/stores/' + store + '/files/bulk/file-0000.md');
  assert.equal(bulk.status, 200, 'a preview changes nothing');
});

step('a redaction of a string, with its reason and what it removed', async () => {
  assert.match((await content(CONTACTS)).text, /SECRET-TOKEN-123/);
  await page.goto(base + '/console#/s/' + store + '/redact');
  await page.locator('#redact-mode').selectOption('string');
  await page.locator('input[name=string]').fill('SECRET-TOKEN-123');
  await page.locator('input[name=reason]').fill('a credential pasted by mistake');
  await page.locator('input[name=confirm]').check();
  await page.locator('#redact-submit').click();
  await page.locator('#redact-done').waitFor();
  assert.match(await page.locator('#redact-outcome').textContent(), new RegExp(CONTACTS));
  await shot(page, 'redact');
  const now = await content(CONTACTS);
  assert.doesNotMatch(now.text, /SECRET-TOKEN-123/);
  assert.match(now.text, /\[REDACTED\]/);
  const stat = JSON.parse((await apiCall('GET', '/v1/stores/' + store + '/history' + CONTACTS)).text);
  assert.ok(stat.versions.some((version) => version.redaction && version.redaction.reason === 'a credential pasted by mistake'));
});

step('a redaction of one version, from the history', async () => {
  const history = JSON.parse((await apiCall('GET', '/v1/stores/' + store + '/history' + PREFERENCES)).text);
  const first = history.versions[history.versions.length - 1];
  await page.goto(base + '/console#/s/' + store + '/history' + PREFERENCES);
  await page.locator('#history tbody tr').last().locator('a', { hasText: 'Redact' }).click();
  assert.equal(await page.locator('input[name=version]').inputValue(), String(first.version));
  await page.locator('input[name=reason]').fill('personal data');
  await page.locator('input[name=confirm]').check();
  await page.locator('#redact-submit').click();
  await page.locator('#redact-done').waitFor();
  assert.match(await page.locator('#redact-outcome').textContent(), /whole content/);
  const gone = await apiCall('GET', '/v1/stores/' + store + '/files' + PREFERENCES + '?version=' + first.version);
  assert.equal(gone.status, 410, gone.text);
  // The history marks it and offers no view of it.
  await page.goto(base + '/console#/s/' + store + '/history' + PREFERENCES);
  const row = page.locator('#history tbody tr').last();
  await row.locator('.badge', { hasText: 'personal data' }).waitFor();
  assert.equal(await row.locator('button', { hasText: 'View' }).count(), 0);
});

step('the audit trail filtered by session, and its hash chain verified', async () => {
  await page.goto(base + '/console#/audit');
  await page.locator('input[name=session]').fill('session-x');
  await page.locator('input[name=store]').fill(store);
  await page.locator('#audit-filter').click();
  await page.locator('.banner', { hasText: 'Everything session session-x did.' }).waitFor();
  await page.locator('#audit tbody tr td').first().waitFor();
  const sessions = await page.locator('#audit tbody tr td:nth-child(8)').allTextContents();
  assert.ok(sessions.length >= 2, sessions.length + ' events');
  assert.ok(sessions.every((session) => session === 'session-x'), sessions.join(','));
  await page.locator('#verify-button').click();
  await page.locator('#verify-result.ok').waitFor();
  assert.match(await page.locator('#verify-result').textContent(), /Hash chain holds/);
  await shot(page, 'audit');
  // A time filter: nothing happened after tomorrow.
  await page.locator('input[name=since]').fill(new Date(Date.now() + 86400000).toISOString().slice(0, 16));
  await page.locator('#audit-filter').click();
  await page.waitForURL(/since=\d+/);
  await page.locator('#audit td', { hasText: 'No event matches.' }).waitFor();
  await page.goBack();
  await page.locator('#audit tbody tr td:nth-child(8)', { hasText: 'session-x' }).first().waitFor();

  // Open everything one session did, from a link.
  await page.locator('#audit a.session').first().click();
  await page.waitForURL((url) => url.href.endsWith('#/audit?session=session-x'));
  await page.locator('#verify-button').waitFor({ state: 'detached' });
  await page.locator('.banner', { hasText: 'Everything session session-x did.' }).waitFor();
  await page.locator('#audit tbody tr td').first().waitFor();
});

step('admin: a user, a token shown once, a grant', async () => {
  await page.goto(base + '/console#/admin');
  await page.locator('input[name=user]').fill('writer');
  await page.locator('#users button[type=submit]').click();
  await page.locator('#tokens h2', { hasText: 'Tokens of writer' }).waitFor();
  await page.locator('input[name=agent]').fill('writer-agent');
  await page.locator('#tokens button[type=submit]').click();
  const token = await page.locator('#new-token').inputValue();
  assert.match(token, /^cairn_[0-9a-f]{16}_[0-9a-f]{64}$/);
  const whoami = await fetch(base + '/v1/whoami', { headers: { Authorization: 'Bearer ' + token } });
  assert.equal(whoami.status, 200);
  await shot(page, 'admin');
  // The list never shows a secret.
  assert.ok(!(await page.locator('#tokens table').textContent()).includes(token.slice(24)));
  await page.locator('#grant-store').selectOption(store);
  await page.locator('input[name=grant-user]').fill('writer');
  await page.locator('#grants select[name=access]').selectOption('write');
  await page.locator('#grants button[type=submit]').click();
  await page.locator('#grants tr', { hasText: 'writer' }).locator('td', { hasText: /^write$/ }).waitFor();
  const grants = JSON.parse((await apiCall('GET', '/v1/stores/' + store + '/grants')).text);
  assert.deepEqual(grants.grants.find((grant) => grant.user === 'writer').access, 'write');
  // Revoke: the token stops working.
  await page.goto(base + '/console#/admin?user=writer');
  page.once('dialog', (dialog) => dialog.accept());
  await page.locator('#tokens button', { hasText: 'Revoke' }).click();
  await page.locator('#tokens button', { hasText: 'Revoke' }).waitFor({ state: 'detached' });
  for (let attempt = 0; ; attempt += 1) {
    const again = await fetch(base + '/v1/whoami', { headers: { Authorization: 'Bearer ' + token } });
    if (again.status === 401) break;
    assert.ok(attempt < 50, 'the revoked token still works');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
});

step('the cluster page, refreshed live', async () => {
  await page.goto(base + '/console#/cluster');
  // Every member listed with a matched index (the page refreshes every 2 s).
  await page.waitForFunction(() => {
    const rows = document.querySelectorAll('#members tbody tr');
    return rows.length === 3 && Array.from(rows).every((row) => /^\d+$/.test(row.cells[6].textContent));
  });
  const rows = [];
  for (const row of await page.locator('#members tbody tr').all()) rows.push(await row.locator('td').allTextContents());
  assert.equal(rows.length, 3, JSON.stringify(rows));
  assert.deepEqual(rows.map((cells) => cells.slice(0, 3)), [
    ['1 (this node)', 'leader', 'region-1'],
    ['2', 'follower', 'region-2'],
    ['3', 'learner', 'region-3'],
  ]);
  // The leader knows how far each member has matched its log.
  for (const cells of rows) assert.match(cells[6], /^\d+$/, JSON.stringify(cells));
  const applied = Number(await page.locator('#applied').textContent());
  await apiCall('PUT', '/v1/stores/' + store + '/files/cluster-tick.md', { body: 'tick' });
  await page.waitForFunction((before) => Number(document.querySelector('#applied').textContent) > before, applied);
  await shot(page, 'cluster');
});

step('a read-only user sees the file but may not change it', async () => {
  const reader = await newPage();
  await signIn(reader, readerToken);
  assert.match(await reader.locator('#principal').textContent(), /reader/);
  // The stores list says what the reader may do.
  const row = reader.locator('#stores tr', { hasText: store });
  assert.equal((await row.locator('td').allTextContents())[7], 'read');
  // The file shows without an editor, and without rollback or redaction.
  await reader.goto(base + '/console#/s/' + store + '/files' + PREFERENCES);
  await reader.reload();
  await reader.locator('#read-only').waitFor();
  assert.equal((await reader.locator('#content').textContent()), (await content(PREFERENCES)).text);
  assert.equal(await reader.locator('#editor').count(), 0);
  assert.equal(await reader.locator('#save').count(), 0);
  assert.equal(await reader.locator('#new-file').count(), 0);
  assert.equal(await reader.locator('a', { hasText: 'Roll back' }).count(), 0);
  assert.deepEqual(await reader.locator('nav.tabs a').allTextContents(), ['Files', 'Audit']);
  await shot(reader, 'denied');
  // The API refuses the reader's write whatever the page shows.
  const before = await content(PREFERENCES);
  const refused = await fetch(base + '/v1/stores/' + store + '/files' + PREFERENCES, {
    method: 'PUT', headers: { Authorization: 'Bearer ' + readerToken }, body: 'overwritten by a reader' });
  assert.equal(refused.status, 403);
  assert.equal((await content(PREFERENCES)).text, before.text);
  // Admin pages answer what the API allows: no token of another user.
  await reader.goto(base + '/console#/admin?user=writer');
  await reader.locator('#tokens .error').waitFor();
  await reader.context().close();
});

step('readable at phone width', async () => {
  const phone = await newPage({ width: 390, height: 844 });
  await signIn(phone, operatorToken);
  await openFile(phone, PREFERENCES);
  const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, 'the page scrolls sideways by ' + overflow + ' px');
  await shot(phone, 'phone-file');
  await phone.context().close();
});

let failed = 0;
for (const { name, run } of steps) {
  const started = Date.now();
  try {
    await run();
    console.log('ok   ' + name + ' (' + (Date.now() - started) + ' ms)');
  } catch (error) {
    failed += 1;
    console.log('FAIL ' + name + '\n' + (error.stack || error));
    // Every page still open, as it was: a picture and its text.
    for (const [index, open] of pages.entries()) {
      if (open.isClosed()) continue;
      await open.screenshot({ path: path.join(screenshots, 'failure-' + index + '.png') }).catch(() => {});
      const text = await open.locator('body').innerText().catch(() => '');
      console.log('page ' + index + ' (' + open.url() + '):\n' + text.slice(0, 2000));
    }
    break;
  }
}
if (problems.length) {
  failed += 1;
  console.log('FAIL the pages logged errors or reached another origin:\n  ' + problems.join('\n  '));
}
await browser.close();
console.log(failed ? 'console e2e: FAILED' : 'console e2e: ' + steps.length + ' steps passed');
process.exit(failed ? 1 : 0);
