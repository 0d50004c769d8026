import { test } from 'node:test';
import assert from 'node:assert/strict';
import { restartGraceSeconds } from './restart-grace.js';

test('the grace after a restart grows with the downtime, up to a bound', () => {
  assert.equal(restartGraceSeconds(30, 0, 3600), 30);
  assert.equal(restartGraceSeconds(30, -5, 3600), 30, 'clocks that disagree give no less than one lease');
  assert.equal(restartGraceSeconds(30, Number.NaN, 3600), 30, 'no agent ever seen: one lease');
  assert.equal(restartGraceSeconds(30, 180, 3600), 210);
  assert.equal(restartGraceSeconds(30, 86_400, 3600), 3630);
});
