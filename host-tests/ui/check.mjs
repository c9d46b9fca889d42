// The status page in headless chromium (run.sh starts the gateways and makes the traffic).
// Exits 1 with the failed checks listed; writes screenshots to $UI_OUT.
import { chromium } from 'playwright-core';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (run host-tests/ui/run.sh)`);
  return value;
};
const base = env('UI_BASE');
const openBase = env('UI_OPEN_BASE');
const adminKey = env('UI_ADMIN_KEY');
const tenantKey = env('UI_TENANT_KEY');
const benched = env('UI_BENCHED');
const refused = env('UI_REFUSED');
const out = env('UI_OUT');
const secrets = env('UI_SECRETS').split(',');
const markupAlias = '<b id="injected">bold</b>';

const failures = [];
let passed = 0;
function check(ok, what, detail) {
  if (ok) {
    passed++;
    console.log(`ok    ${what}`);
  } else {
    failures.push(what);
    console.log(`FAIL  ${what}${detail === undefined ? '' : `: ${JSON.stringify(detail)}`}`);
  }
}

// "1m 58s", "45s", "2h 03m" -> seconds.
function seconds(text) {
  const match = /^(?:(\d+)h )?(?:(\d+)m ?)?(?:(\d+)s)?$/.exec((text || '').trim());
  if (!match || text.trim() === '') return NaN;
  const [, h, m, s] = match;
  return Number(h || 0) * 3600 + Number(m || 0) * 60 + Number(s || 0);
}

// Console errors, uncaught exceptions, failed requests and 4xx/5xx answers of a page.
function watch(page) {
  const problems = [];
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`exception: ${error.message}`));
  page.on('requestfailed', (request) =>
    problems.push(`request failed: ${request.url()} ${request.failure()?.errorText}`));
  page.on('response', (response) => {
    if (response.status() >= 400) problems.push(`HTTP ${response.status()}: ${response.url()}`);
  });
  return problems;
}

const text = async (locator) => ((await locator.textContent()) || '').trim();

// Plain HTTP first: who gets the page at `/`, and what it is.
{
  const ollama = await fetch(`${base}/`);
  check((await ollama.text()) === 'Ollama is running', 'GET / without Accept: text/html is still "Ollama is running"');
  const page = await fetch(`${base}/`, { headers: { accept: 'text/html,*/*;q=0.8' } });
  const html = await page.text();
  check(page.status === 200 && (page.headers.get('content-type') || '').startsWith('text/html'),
    'GET / from a browser is the status page', page.status);
  const csp = page.headers.get('content-security-policy') || '';
  check(/script-src 'sha256-[^']+';/.test(csp) && csp.includes("connect-src 'self'"),
    'the page has a hash-based Content-Security-Policy', csp);
  const ui = await fetch(`${base}/ui`);
  check(ui.status === 200 && (await ui.text()) === html, 'GET /ui is the same page, without a key');
  check(!['refusing', 'backup', 'gpt-4o-mini', 'alice', 'guarded'].some((name) => html.includes(name)),
    'the HTML shell carries no data (no provider, model or key name)');
  check(!/https?:\/\//.test(html), 'the page loads nothing from elsewhere (no http(s) URL in it)');
}

const browser = await chromium.launch({ executablePath: env('UI_CHROMIUM'), headless: true });
try {
  // 1. An admin with the gateway's admin key.
  const context = await browser.newContext({ viewport: { width: 1440, height: 1000 } });
  const page = await context.newPage();
  const problems = watch(page);
  await page.goto(`${base}/ui`);
  await page.locator('#login').waitFor({ state: 'visible', timeout: 10000 });
  check(await page.locator('#status').isHidden(), 'without a key the page asks for one and shows nothing else');
  await page.fill('#key', adminKey);
  await page.click('#login-form button[type=submit]');
  const benchedRow = page.locator(`#keys tr[data-key="${benched}"]`);
  await benchedRow.waitFor({ timeout: 10000 });
  check(await page.locator('#login').isHidden(), 'the admin key opens the page');
  check(await page.evaluate(() => sessionStorage.getItem('apex-admin-key')) === adminKey,
    'the key is kept in sessionStorage');

  // The benched key: cooling down (rate limited), with its time left counting down.
  check(await benchedRow.getAttribute('data-state') === 'rate-limited',
    `${benched} shows as rate limited`, await benchedRow.getAttribute('data-state'));
  const badge = await text(benchedRow.locator('.badge'));
  check(badge === 'cooling down: rate limited', `${benched} is shown cooling down`, badge);
  const leftCell = benchedRow.locator('td').nth(4);
  const left1 = seconds(await text(leftCell));
  check(left1 > 100 && left1 <= 120, `${benched} has time left (retry-after 120)`, await text(leftCell));
  const [other] = ['primary#0', 'primary#1'].filter((k) => k !== benched);
  if (other) {
    const row = page.locator(`#keys tr[data-key="${other}"]`);
    check(await row.getAttribute('data-state') === 'healthy', `${other} is healthy`);
  }
  const refusedRow = page.locator(`#keys tr[data-key="${refused}"]`);
  check(await refusedRow.getAttribute('data-state') === 'auth'
    && (await text(refusedRow.locator('.badge'))).startsWith('refused'),
  `${refused} shows as refused`, await text(refusedRow));
  check(seconds(await text(refusedRow.locator('td').nth(4))) > 500, `${refused} rests auth_cooldown_secs (600)`,
    await text(refusedRow.locator('td').nth(4)));
  check(await text(page.locator('#keys tr[data-key="backup#0"] td').nth(1)) === 'openai',
    'providers show their kind');
  check(await page.locator(`#cooldowns tr[data-subject="${benched}"]`).count() === 1,
    'the cooldowns table lists the benched key');

  // Aliases and their targets, in order, with the target states.
  const targets = async (alias) => page.locator(`#aliases tr[data-alias="${alias}"] [data-target]`)
    .evaluateAll((nodes) => nodes.map((n) => n.dataset.target));
  check(JSON.stringify(await targets('chat')) === JSON.stringify(['primary/gpt-4o-mini', 'backup/gpt-4o-mini']),
    'alias chat shows its targets', await targets('chat'));
  check(JSON.stringify(await targets('guarded')) === JSON.stringify(['refusing/gpt-4o-mini', 'backup/gpt-4o-mini']),
    'alias guarded shows its targets', await targets('guarded'));
  check(await text(page.locator('#aliases tr[data-alias="guarded"] td').nth(1)) === 'round-robin',
    'aliases show their strategy');
  const targetBadge = async (alias, target) =>
    text(page.locator(`#aliases tr[data-alias="${alias}"] [data-target="${target}"] .badge`));
  check(await targetBadge('guarded', 'refusing/gpt-4o-mini') === 'every key refused',
    'a target whose every key was refused says so', await targetBadge('guarded', 'refusing/gpt-4o-mini'));
  check(await targetBadge('chat', 'primary/gpt-4o-mini') === 'healthy',
    'a target with a usable key is healthy', await targetBadge('chat', 'primary/gpt-4o-mini'));
  const chatRequests = Number(await text(page.locator('#aliases tr[data-alias="chat"] td').nth(3)));
  check(chatRequests >= 3, 'alias chat counts its requests (gpt-4o via the pattern included)', chatRequests);
  check(await text(page.locator('#patterns tbody tr td').nth(1)) === 'chat', 'model patterns are listed');

  // Summary: requests, rates, errors, percentiles, cache.
  const card = (label) => page.locator(`.card[data-card="${label}"] .value`);
  check(Number(await text(card('Requests'))) >= 5, 'the summary counts requests', await text(card('Requests')));
  check(/^\d+ \/ \d+ \/ \d+ ms$/.test(await text(card('Latency p50 / p95 / p99'))),
    'the summary shows p50 / p95 / p99', await text(card('Latency p50 / p95 / p99')));
  check(await text(card('Cache hit rate')) === '—', 'no cache configured: no hit rate', await text(card('Cache hit rate')));
  check(/^\d+\.\d%$/.test(await text(card('Success rate'))), 'the summary shows a success rate');
  check(await text(card('Keys benched')) === '2 of 4',
    'the summary counts benched keys', await text(card('Keys benched')));
  const upstream = async (kind) => Number(await text(page.locator(`#errors tr[data-class="${kind}"] td`).nth(2)));
  check(await upstream('rate-limited') >= 1, 'error classes: the 429 is counted');
  check(await upstream('auth') >= 1, 'error classes: the refused key is counted');

  // Escaping: an alias named with markup is text, not an element.
  check(await page.locator(`#aliases tr[data-alias="${markupAlias.replace(/"/g, '\\"')}"] td`).first().textContent() === markupAlias,
    'a name holding markup is shown as text');
  check(await page.evaluate(() => document.getElementById('injected') === null), 'no element was made from data');

  // No key value anywhere on the page.
  const pageText = await page.evaluate(() => document.documentElement.outerHTML);
  check(!secrets.some((s) => pageText.includes(s)), 'no upstream key value on the page');

  // It counts down, and refreshes itself (a new /stats within the refresh interval).
  const refreshedBefore = await text(page.locator('#refreshed'));
  check(/^Last refreshed .+ \(\d+ s ago, every 5 s\)$/.test(refreshedBefore), 'it says when it last refreshed', refreshedBefore);
  const nextStats = page.waitForResponse((r) => r.url().endsWith('/stats') && r.status() === 200, { timeout: 8000 });
  await page.waitForTimeout(2100);
  const left2 = seconds(await text(leftCell));
  check(left2 < left1 && left2 >= left1 - 4, 'the time left counts down', [left1, left2]);
  await nextStats;
  check(true, 'it fetched /stats again by itself');
  await page.waitForTimeout(200);
  const rateCard = await text(card('Requests per minute'));
  check(/^\d+(\.\d)?$/.test(rateCard), 'after a refresh the request rate is known', rateCard);

  await page.screenshot({ path: `${out}/status.png`, fullPage: true });
  // A reload in the same tab needs no key again.
  await page.reload();
  await benchedRow.waitFor({ timeout: 10000 });
  check(await page.locator('#login').isHidden(), 'a reload keeps the key (same tab)');
  check(problems.length === 0, 'no console errors and no failed requests', problems);
  await context.close();

  // 2. Wrong keys: a tenant's (403) and an unknown one (401) show what happened.
  const denied = await browser.newContext({ viewport: { width: 1000, height: 700 } });
  const tab = await denied.newPage();
  const deniedProblems = watch(tab);
  await tab.goto(`${base}/ui`);
  await tab.fill('#key', tenantKey);
  await tab.click('#login-form button[type=submit]');
  const message = tab.locator('#login-message');
  await message.waitFor({ state: 'visible', timeout: 10000 });
  check((await text(message)).startsWith('Not an admin key (403)'),
    'a tenant key shows a 403 message', await text(message));
  check(await tab.locator('#status').isHidden(), 'and no data');
  check(await tab.evaluate(() => sessionStorage.getItem('apex-admin-key')) === null, 'and the key is not kept');
  check(await tab.locator('#refresh').isHidden(), 'nothing to refresh without a key');
  await tab.screenshot({ path: `${out}/status-403.png` });
  await tab.fill('#key', 'not-a-gateway-key');
  await tab.click('#login-form button[type=submit]');
  await tab.waitForFunction(() => document.getElementById('login-message').textContent.includes('(401)'), null, { timeout: 10000 });
  check((await text(message)).startsWith('The gateway refused this key (401)'), 'an unknown key shows a 401 message', await text(message));
  check(deniedProblems.every((p) => /\b40[13]\b/.test(p)), 'only the 401/403 answers show as errors', deniedProblems);
  // The watchers work: the browser's own console error for each refused /stats was seen.
  check(deniedProblems.filter((p) => p.startsWith('console:')).length === 2
    && deniedProblems.filter((p) => p.startsWith('HTTP 40')).length === 2,
  'the console and network watchers saw the two refusals', deniedProblems);
  await denied.close();

  // 3. An open gateway (no keys): `/` in a browser, no key asked for.
  const openContext = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const openPage = await openContext.newPage();
  const openProblems = watch(openPage);
  await openPage.goto(`${openBase}/`);
  await openPage.locator('#status').waitFor({ state: 'visible', timeout: 10000 });
  check(await openPage.locator('#login').isHidden(), 'an open gateway shows the page without asking for a key');
  check(await openPage.locator('#keys tr[data-key="primary#1"]').getAttribute('data-state') === 'healthy',
    'the open gateway lists configured keys (no traffic yet)');
  check(await openPage.locator('#forget').isHidden(), 'no "forget key" on an open gateway');
  await openPage.screenshot({ path: `${out}/status-open.png`, fullPage: true });
  check(openProblems.length === 0, 'no console errors on the open gateway', openProblems);
  await openContext.close();
} catch (error) {
  failures.push(`error: ${error.message}`);
  console.log(`FAIL  ${error.stack}`);
} finally {
  await browser.close();
}

console.log(`\n${passed} passed, ${failures.length} failed; screenshot: ${out}/status.png`);
process.exit(failures.length === 0 ? 0 : 1);
