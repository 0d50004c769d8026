import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { retryDelaySeconds, signatureOf } from './webhook-delivery.js';

test('the signature is the hex HMAC-SHA256 of the body with the secret', () => {
  const body = '{"event":"job.done"}';
  assert.equal(signatureOf(body, 'whsec_x'), `sha256=${createHmac('sha256', 'whsec_x').update(body).digest('hex')}`);
  assert.notEqual(signatureOf(body, 'whsec_x'), signatureOf(body, 'whsec_y'));
});

test('retries wait twice as long each time, at most an hour, for about a day', () => {
  assert.deepEqual([1, 2, 3, 4].map((n) => retryDelaySeconds(n, 10)), [10, 20, 40, 80]);
  assert.equal(retryDelaySeconds(30, 10), 3600);
  let elapsed = 0;
  let tries = 0;
  while (elapsed < 86400) elapsed += retryDelaySeconds(++tries, 10);
  assert.ok(tries > 20 && tries < 40, `${tries} tries in a day`);
});
