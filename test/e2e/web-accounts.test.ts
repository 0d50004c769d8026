// The account pages in Chromium, on a real farm: named API tokens (created, shown once, working
// against the API, revoked), webhooks (added with their secret shown once, a real delivery read
// back in the delivery log), and the admins' audit log with its filters.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { type Farm, api, eventually, startFarm } from '../helpers/farm.js';
import { buildWebApp, launchChromium, layoutProblems, PHONE, SHOTS, signIn } from '../helpers/browser.js';

describe('account pages in the web app', { timeout: 600_000 }, () => {
  let farm: Farm;
  let browser: Browser;
  let receiver: Server;
  let receiverUrl: string;
  const posts: string[] = [];
  let alice: Awaited<ReturnType<Farm['userCli']>>;

  before(async () => {
    buildWebApp();
    mkdirSync(SHOTS, { recursive: true });
    // This farm lets webhooks call the loopback (as `drover up` does), for the receiver below.
    farm = await startFarm({ agents: 0, env: { DROVER_WEBHOOK_ALLOW_PRIVATE: '1' } });
    alice = await farm.userCli('alice', 'alice-pw');
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c));
      req.on('end', () => {
        posts.push(body);
        res.end('ok');
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hook`;
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await new Promise((resolve) => receiver?.close(resolve));
    await farm?.stop();
  });

  async function pageAs(user: string, password: string): Promise<Page> {
    const page = await (await browser.newContext()).newPage();
    page.on('dialog', (d) => void d.accept());
    await signIn(page, farm.url, user, password);
    return page;
  }

  test('a user makes an API token, uses it, and revokes it; adds a webhook and reads its deliveries', async () => {
    const page = await pageAs('alice', 'alice-pw');
    await page.getByTestId('current-user').click();
    await page.getByTestId('account-page').waitFor();

    // A token, shown once, that works against the API.
    const tokens = page.getByTestId('api-tokens');
    await tokens.getByLabel('Token name').fill('nightly-ci');
    await tokens.getByLabel('Expires after').selectOption({ label: '7 days' });
    await tokens.getByTestId('create-token').click();
    const token = (await page.getByTestId('new-token-value').textContent())!.trim();
    assert.match(token, /^drv_u_/);
    assert.equal((await api(farm.url, token, 'GET', '/jobs')).status, 200);
    await tokens.locator('[data-testid="api-token"][data-token-name="nightly-ci"]').waitFor();
    assert.match((await tokens.getByTestId('api-token').textContent())!, /until/);

    // A bad name: a readable message, nothing made.
    await tokens.getByLabel('Token name').fill('no spaces please');
    await tokens.getByTestId('create-token').click();
    await tokens.getByText(/a token name is 1 to 64 letters/).waitFor();
    assert.equal(await tokens.getByTestId('api-token').count(), 1);

    // A webhook, its secret shown once; a job's end reaches it and shows in the delivery log.
    const hooks = page.getByTestId('webhooks');
    await hooks.getByLabel('URL').fill(receiverUrl);
    await hooks.getByLabel('job.error').uncheck();
    await hooks.getByTestId('add-webhook').click();
    const secret = (await page.getByTestId('new-webhook-secret').textContent())!.trim();
    assert.match(secret, /^whsec_/);
    await hooks.getByTestId('webhook').waitFor();
    assert.match((await hooks.getByTestId('webhook').textContent())!, /job\.done, job\.canceled/);
    assert.deepEqual(await layoutProblems(page), [], 'layout of the account page');
    await page.screenshot({ path: join(SHOTS, 'account.png') });

    const created = await alice(['job', 'create', '-n', 'web-hooked', '-s', 'examples/hello/count_words.py', '-i', 'examples/hello/texts/poem_1.txt', '--json']);
    const jobId = (JSON.parse(created.stdout) as { id: string }).id;
    assert.equal((await alice(['job', 'stop', jobId])).code, 0);
    await eventually(async () => posts.length > 0, 30_000, 'the webhook POST');
    assert.equal((JSON.parse(posts[0]!) as { event: string; job: { id: string } }).job.id, jobId);
    await eventually(async () => {
      await hooks.getByTestId('show-deliveries').click();
      // The log loads after the click: count once it has (a table, or its "No deliveries yet").
      await hooks.locator('[data-testid="deliveries"], p.muted:has-text("No deliveries yet")').first().waitFor();
      const delivered = await hooks.locator('[data-testid="delivery"][data-status="delivered"]').count();
      if (delivered === 0) await hooks.getByTestId('show-deliveries').click(); // closed again, to reload
      return delivered > 0;
    }, 30_000, 'the delivery in the log');
    assert.match((await hooks.getByTestId('delivery').textContent())!, new RegExp(`job\\.canceled.*${jobId}.*delivered`));

    // Revoked: the token answers 401 at once.
    await tokens.getByTestId('revoke-api-token').click();
    await tokens.getByText('No API tokens.').waitFor();
    assert.equal((await api(farm.url, token, 'GET', '/jobs')).status, 401);
    await hooks.getByTestId('remove-webhook').click();
    await hooks.getByText('No webhooks.').waitFor();

    // The audit log is for admins: not in Alice's menu, and its page is not served to her.
    assert.equal(await page.getByTestId('nav-audit').count(), 0);
    await page.goto(`${farm.url}/#/audit`);
    await page.getByTestId('not-found').waitFor();
  });

  test('an admin reads the audit log, filtered by user and action', async () => {
    const page = await pageAs('admin', farm.adminPassword);
    await page.getByTestId('nav-audit').click();
    await page.getByTestId('audit-page').waitFor();
    await page.locator('[data-testid="audit-row"][data-action="token.create"][data-user="alice"]').waitFor();
    const actions = await page.getByTestId('audit-row').evaluateAll((rows) => rows.map((r) => `${r.getAttribute('data-user')} ${r.getAttribute('data-action')}`));
    for (const expected of ['alice token.create', 'alice token.revoke', 'alice webhook.add', 'alice webhook.remove', 'alice job.create', 'alice job.stop', 'admin user.create']) {
      assert.ok(actions.includes(expected), `${expected} in ${actions.join(', ')}`);
    }
    assert.ok(!(await page.getByTestId('audit-table').textContent())!.includes('drv_u_'), 'no token in the log');

    await page.getByRole('textbox', { name: 'User' }).fill('alice');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.locator('select[name="audit-action"]').selectOption('job.stop');
    await eventually(async () => {
      const rows = await page.getByTestId('audit-row').evaluateAll((r) => r.map((x) => `${x.getAttribute('data-user')} ${x.getAttribute('data-action')}`));
      return rows.length === 1 && rows[0] === 'alice job.stop';
    }, 15_000, 'only alice job.stop');
    assert.match(page.url(), /#\/audit\?user=alice&action=job\.stop/);
    assert.deepEqual(await layoutProblems(page), [], 'layout of the audit page');
    await page.screenshot({ path: join(SHOTS, 'audit.png') });
    await page.setViewportSize(PHONE);
    assert.deepEqual(await layoutProblems(page), [], 'layout of the audit page on a phone');
  });
});
