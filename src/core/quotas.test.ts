import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type QuotaUse, budgetSpent, coreRoom, quotaWaitingReason } from './quotas.js';

const use = (over: Partial<Omit<QuotaUse, 'settings'>> & { settings?: Partial<QuotaUse['settings']> }): QuotaUse => ({
  user: 'ann',
  runningCores: 0,
  monthCoreSeconds: 0,
  monthStart: '2026-12-01',
  ...over,
  settings: { maxCores: null, monthlyCoreHours: null, overBudget: 'hold', ...over.settings },
});

test('a cap leaves the cores not yet held; a spent budget leaves none', () => {
  assert.equal(coreRoom(use({})), null);
  assert.equal(coreRoom(use({ settings: { maxCores: 4 }, runningCores: 3 })), 1);
  assert.equal(coreRoom(use({ settings: { maxCores: 4 }, runningCores: 6 })), 0);
  assert.equal(coreRoom(use({ settings: { monthlyCoreHours: 1 }, monthCoreSeconds: 3600 })), 0);
  assert.equal(budgetSpent(use({ settings: { monthlyCoreHours: 1 }, monthCoreSeconds: 3599 })), false);
});

test('the waiting sentence names the cap or the budget, and only when it holds the job back', () => {
  assert.equal(quotaWaitingReason(use({ settings: { maxCores: 4 }, runningCores: 2 }), 2), null);
  assert.match(quotaWaitingReason(use({ settings: { maxCores: 4 }, runningCores: 3 }), 2)!, /ann's running tasks hold 3 of the 4 cores they may use at once/);
  assert.match(quotaWaitingReason(use({ settings: { monthlyCoreHours: 2 }, monthCoreSeconds: 7300 }), 1)!, /ann's monthly budget of 2 core-hours is spent \(2.03 used since 2026-12-01\)/);
});
