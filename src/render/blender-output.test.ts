// Unit tests on output captured from real Blender 3.4 runs (test/fixtures/blender-output/).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { BlenderOutputParser, parseBlenderOutput, parseDuration, type BlenderEvent } from './blender-output.js';

const fixture = (name: string) => readFileSync(new URL(`../../test/fixtures/blender-output/${name}`, import.meta.url), 'utf8');

/** A clock that advances 10 ms every time it is read. */
function tickingClock() {
  let t = 0;
  return () => (t += 10);
}

test('a three-frame render gives progress, three saved frames in order and their times', () => {
  const events = parseBlenderOutput(fixture('render-3-frames.txt'), { now: tickingClock() });
  const saved = events.filter((e) => e.type === 'saved');
  assert.deepEqual(
    saved.map((e) => [e.frame, e.path]),
    [
      [1, '/tmp/bx/cmd/frame_00001.png'],
      [2, '/tmp/bx/cmd/frame_00002.png'],
      [3, '/tmp/bx/cmd/frame_00003.png'],
    ],
  );
  for (const e of saved) assert.ok(e.elapsedMs !== null && e.elapsedMs > 0, 'each frame is timed from its first Fra: line');

  const times = events.filter((e) => e.type === 'frame-time');
  assert.deepEqual(times[0], { type: 'frame-time', frame: 1, seconds: 0.21, savingSeconds: 0.1 });
  assert.equal(times.length, 3);

  const progress = events.filter((e): e is Extract<BlenderEvent, { type: 'progress' }> => e.type === 'progress');
  assert.deepEqual([...new Set(progress.map((e) => e.frame))], [1, 2, 3]);
  const sampled = progress.filter((e) => e.samples !== undefined);
  assert.ok(sampled.length >= 3);
  assert.ok(sampled.every((e) => e.samples === 4 && e.sample! <= 4));
  assert.ok(progress.some((e) => e.status === 'Synchronizing object | Cube'));
  assert.ok(progress.every((e) => e.peakMemoryMb! > 1));

  assert.deepEqual(events.find((e) => e.type === 'loaded'), { type: 'loaded', path: '/tmp/bx/p/scene.blend' });
  assert.ok(events.some((e) => e.type === 'notice' && e.message.startsWith('settings: scene=Main')));
  assert.equal(events.filter((e) => e.type === 'error' || e.type === 'warning').length, 0);
  assert.deepEqual(events.at(-1), { type: 'quit' });
});

test('chunk boundaries do not matter', () => {
  const text = fixture('render-3-frames.txt');
  const whole = parseBlenderOutput(text, { now: () => 0 });
  const parser = new BlenderOutputParser({ now: () => 0 });
  const pieces: BlenderEvent[] = [];
  for (let i = 0; i < text.length; i += 7) pieces.push(...parser.push(Buffer.from(text.slice(i, i + 7))));
  pieces.push(...parser.end());
  assert.deepEqual(pieces, whole);
});

test('a Python traceback becomes one error with the exception as its message', () => {
  const errors = parseBlenderOutput(fixture('python-error.txt')).filter((e) => e.type === 'error');
  assert.equal(errors.length, 2);
  assert.equal(errors[0]!.type === 'error' && errors[0]!.message, 'RuntimeError: boom');
  assert.match(errors[0]!.type === 'error' ? errors[0]!.traceback ?? '' : '', /File "\/tmp\/bx\/bad.py", line 1/);
  assert.match(errors[1]!.type === 'error' ? errors[1]!.message : '', /script failed/);
});

test('Blender errors are reported', () => {
  const denoise = parseBlenderOutput(fixture('denoise-error.txt')).filter((e) => e.type === 'error');
  assert.deepEqual(denoise, [{ type: 'error', message: 'Build without OpenImageDenoiser' }]);
  const missing = parseBlenderOutput(fixture('missing-file.txt')).filter((e) => e.type === 'error');
  assert.equal(missing.length, 1);
  assert.match(missing[0]!.type === 'error' ? missing[0]!.message : '', /Cannot read file '\/tmp\/bx\/nope.blend'/);
});

test('other engines, warnings and Drover lines', () => {
  const events = parseBlenderOutput(
    [
      'Fra:7 Mem:120.5M (Peak 1.2G) | Time:00:01.00 | Rendering 3 / 64 samples',
      "Warning: Unable to open '/missing/tex.png'",
      'Drover error: scene "Main" writes a movie (FFMPEG)',
      'Drover: denoising turned off',
      "Saved: '/o/frame_00007.exr'",
      ' Time: 1:02:03.50 (Saving: 00:01.25)',
      'Traceback (most recent call last):',
      '  File "x.py", line 3',
    ].join('\n'),
    { now: () => 5 },
  );
  assert.deepEqual(events, [
    { type: 'progress', frame: 7, status: 'Rendering 3 / 64 samples', sample: 3, samples: 64, peakMemoryMb: 1.2 * 1024 },
    { type: 'warning', message: "Unable to open '/missing/tex.png'" },
    { type: 'error', message: 'scene "Main" writes a movie (FFMPEG)' },
    { type: 'notice', message: 'denoising turned off' },
    { type: 'saved', frame: 7, path: '/o/frame_00007.exr', elapsedMs: 0 },
    { type: 'frame-time', frame: 7, seconds: 3723.5, savingSeconds: 1.25 },
    { type: 'error', message: 'File "x.py", line 3', traceback: 'Traceback (most recent call last):\n  File "x.py", line 3' },
  ]);
  assert.equal(parseDuration('00:00.21'), 0.21);
  assert.equal(parseDuration('nonsense'), undefined);
});
