import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDurationText } from './duration-text.js';

test('durations in minutes, hours, days and weeks', () => {
  assert.equal(parseDurationText('30d'), 30 * 86400);
  assert.equal(parseDurationText('12h'), 12 * 3600);
  assert.equal(parseDurationText('2W'), 14 * 86400);
  assert.equal(parseDurationText('90m'), 5400);
});

test('anything else is not a duration', () => {
  for (const bad of ['', '30', 'd', '0d', '-1d', '1.5d', '30 days', '1y']) assert.equal(parseDurationText(bad), null, bad);
});
