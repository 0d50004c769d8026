import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LoginThrottle } from './login-throttle.js';

test('a lockout survives a flood of other keys filling the throttle', () => {
  let now = 0;
  const throttle = new LoginThrottle(10, 60_000, 10_000, () => now);
  for (let i = 0; i < 10; i++) throttle.fail('admin\u0000203.0.113.7');
  assert.throws(() => throttle.check('admin\u0000203.0.113.7'), /too many failed sign-ins/);
  // 50,000 other names tried once each: memory stays bounded, the lockout stays.
  for (let i = 0; i < 50_000; i++) throttle.fail(`user${i}\u0000198.51.100.1`);
  assert.ok(throttle.size <= 10_000, `holds ${throttle.size} keys`);
  assert.throws(() => throttle.check('admin\u0000203.0.113.7'), /too many failed sign-ins/);
  // The window ends: the key may try again.
  now += 60_000;
  assert.doesNotThrow(() => throttle.check('admin\u0000203.0.113.7'));
});
