import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isPrivateAddress } from './private-addresses.js';

test('loopback, private, link-local and reserved addresses are private', () => {
  for (const a of ['127.0.0.1', '127.8.9.10', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', '::', 'fd00::1', 'fe80::1', '::ffff:127.0.0.1', '::ffff:10.0.0.1', '[::1]']) {
    assert.equal(isPrivateAddress(a), true, a);
  }
});

test('public addresses are not', () => {
  for (const a of ['8.8.8.8', '1.1.1.1', '172.32.0.1', '192.169.0.1', '2001:4860:4860::8888', '::ffff:8.8.8.8']) assert.equal(isPrivateAddress(a), false, a);
});
