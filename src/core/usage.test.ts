import { test } from 'node:test';
import assert from 'node:assert/strict';
import { monthStartDay, parseDay, splitByDay } from './usage.js';

test('an attempt is cut at UTC midnights, each day getting its own seconds', () => {
  assert.deepEqual(splitByDay('2026-12-03T10:00:00.000Z', '2026-12-03T10:00:30.500Z'), [{ day: '2026-12-03', seconds: 30.5 }]);
  assert.deepEqual(splitByDay('2026-12-31T23:59:00.000Z', '2027-01-02T00:01:00.000Z'), [
    { day: '2026-12-31', seconds: 60 },
    { day: '2027-01-01', seconds: 86400 },
    { day: '2027-01-02', seconds: 60 },
  ]);
  // Clocks that went backwards count nothing rather than a negative time.
  assert.deepEqual(splitByDay('2026-12-03T10:00:00.000Z', '2026-12-03T09:00:00.000Z'), [{ day: '2026-12-03', seconds: 0 }]);
});

test('months start on the first, UTC; dates are read as days', () => {
  assert.equal(monthStartDay(new Date('2026-12-31T23:59:59Z')), '2026-12-01');
  assert.equal(parseDay('2026-12-01'), '2026-12-01');
  assert.equal(parseDay('2026-12-01T23:30:00-02:00'), '2026-12-02');
  assert.equal(parseDay('yesterday'), null);
  assert.equal(parseDay('2026-13-45'), null);
});
