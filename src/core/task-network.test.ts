import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NETWORK_DEFAULTS, TASK_NETWORK_DENIED, decideTaskNetwork, parseTaskNetworkPolicy } from './task-network.js';

test('script tasks get the network unless the job opts out', () => {
  assert.deepEqual(decideTaskNetwork(undefined, NETWORK_DEFAULTS.script, 'allow'), { network: true });
  assert.deepEqual(decideTaskNetwork(true, NETWORK_DEFAULTS.script, 'allow'), { network: true });
  assert.deepEqual(decideTaskNetwork(false, NETWORK_DEFAULTS.script, 'allow'), { network: false });
});

test('render tasks have no network unless the job asks', () => {
  assert.deepEqual(decideTaskNetwork(undefined, NETWORK_DEFAULTS.render, 'allow'), { network: false });
  assert.deepEqual(decideTaskNetwork(true, NETWORK_DEFAULTS.render, 'allow'), { network: true });
});

test('a farm-wide deny keeps every task off the network and refuses jobs that ask for it', () => {
  for (const kindDefault of [NETWORK_DEFAULTS.script, NETWORK_DEFAULTS.render]) {
    assert.deepEqual(decideTaskNetwork(undefined, kindDefault, 'deny'), { network: false });
    assert.deepEqual(decideTaskNetwork(false, kindDefault, 'deny'), { network: false });
    assert.deepEqual(decideTaskNetwork(true, kindDefault, 'deny'), { refused: TASK_NETWORK_DENIED });
  }
});

test('the farm setting is allow or deny', () => {
  assert.equal(parseTaskNetworkPolicy('deny'), 'deny');
  assert.throws(() => parseTaskNetworkPolicy('off'), /--task-network must be allow or deny, not "off"/);
});
