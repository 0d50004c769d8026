// The preview task's frames: those recorded at lease time are at hand; the others are asked for
// from the first one missing, in one request however many wait.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RecordedFrames } from './recorded-frames.js';

const rec = (frame: number) => ({ frame, path: `frames/f${frame}.png`, sha256: String(frame).repeat(64).slice(0, 64) });

test('frames recorded at lease time need no request; the rest are asked for from the first missing, once for all waiters', async () => {
  const asked: number[] = [];
  const answers: ((frames: ReturnType<typeof rec>[]) => void)[] = [];
  const frames = new RecordedFrames(
    [rec(10), { frame: 20, path: null, sha256: null }, { frame: 30, path: null, sha256: null }, { frame: 40, path: null, sha256: null }],
    (from) => {
      asked.push(from);
      return new Promise((resolve) => answers.push(resolve));
    },
  );
  assert.equal(frames.count, 4);
  assert.equal(frames.recorded, 1);
  assert.deepEqual(await frames.get(0), rec(10));
  assert.deepEqual(asked, []);

  const waiting = [frames.get(1), frames.get(2), frames.get(3)];
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(asked, [20], 'one request, from frame 20');
  // Frames 20 and 40 recorded (30 not yet): 20 is handed over; 30's and 40's waiters ask again from 30.
  answers.shift()!([rec(20), rec(40)]);
  assert.deepEqual(await waiting[0], rec(20));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(asked, [20, 30]);
  answers.shift()!([rec(30), rec(40)]);
  assert.deepEqual(await Promise.all(waiting.slice(1)), [rec(30), rec(40)]);
  assert.equal(frames.recorded, 4);
});

test('a refusal (the task was stopped) reaches every waiter', async () => {
  const frames = new RecordedFrames([{ frame: 1, path: null, sha256: null }, { frame: 2, path: null, sha256: null }], () => Promise.reject(new Error('409 lease lost')));
  await assert.rejects(frames.get(0), /lease lost/);
  await assert.rejects(frames.get(1), /lease lost/);
});
