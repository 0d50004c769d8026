import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventBus, type BusEvent } from './events.js';

test('listeners hear their event with its arguments, until they unsubscribe', () => {
  const bus = new EventBus();
  const heard: string[] = [];
  const off = bus.on('task', (taskId, jobId) => heard.push(`${taskId}/${jobId}`));
  bus.on('job', (jobId) => heard.push(`job ${jobId}`));
  bus.emit('task', 't1', 'j1');
  off();
  bus.emit('task', 't2', 'j1');
  bus.emit('job', 'j1');
  assert.deepEqual(heard, ['t1/j1', 'job j1']);
});

test('a listener may unsubscribe itself or others while an event is dispatched; one added meanwhile waits for the next', () => {
  const bus = new EventBus();
  const heard: string[] = [];
  const offs: (() => void)[] = [];
  offs.push(bus.on('work', () => (heard.push('a'), offs[0]!(), offs[1]!())));
  offs.push(bus.on('work', () => heard.push('b')));
  bus.on('work', () => (heard.push('c'), bus.on('work', () => heard.push('late'))));
  bus.emit('work');
  assert.deepEqual(heard, ['a', 'b', 'c'], 'all three subscribed when the event was emitted hear it');
  heard.length = 0;
  bus.emit('work');
  assert.deepEqual(heard, ['c', 'late']);
});

test('the same function subscribed twice is called twice, and each unsubscribe removes one', () => {
  const bus = new EventBus();
  let calls = 0;
  const listener = () => calls++;
  const off1 = bus.on('work', listener);
  bus.on('work', listener);
  off1();
  off1();
  bus.emit('work');
  assert.equal(calls, 1);
});

test('events go to the relay; events delivered from a relay reach local listeners and are not relayed again', () => {
  const bus = new EventBus();
  const relayed: BusEvent[] = [];
  bus.setRelay({ publish: (e) => relayed.push(e) });
  const heard: string[] = [];
  bus.on('job', (id) => heard.push(id));
  bus.emit('job', 'mine');
  bus.deliver({ type: 'job', args: ['theirs'] });
  assert.deepEqual(heard, ['mine', 'theirs']);
  assert.deepEqual(relayed, [{ type: 'job', args: ['mine'] }]);
});
