import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  chunkFrames,
  countChunks,
  formatFrameList,
  frameRangeOf,
  FrameExpressionError,
  MAX_FRAME,
  parseFrames,
} from './frames.js';

test('parses single frames, ranges, stepped ranges and lists', () => {
  assert.deepEqual(parseFrames('7'), [7]);
  assert.deepEqual(parseFrames('0'), [0]);
  assert.deepEqual(parseFrames('1-5'), [1, 2, 3, 4, 5]);
  assert.deepEqual(parseFrames('1-20:5'), [1, 6, 11, 16]);
  assert.deepEqual(parseFrames('1,5,10-12'), [1, 5, 10, 11, 12]);
  assert.deepEqual(parseFrames('1..3'), [1, 2, 3], "Blender's own A..B syntax");
  assert.equal(parseFrames('1-250').length, 250);
  assert.deepEqual(parseFrames(`${MAX_FRAME}`), [MAX_FRAME]);
});

test('tolerates whitespace, sorts and removes duplicates', () => {
  assert.deepEqual(parseFrames(' 10 - 12 , 1 ,  11 , 3 - 7 : 2 '), [1, 3, 5, 7, 10, 11, 12]);
  assert.deepEqual(parseFrames('5,5,5'), [5]);
});

test('rejects bad expressions with a message that says why', () => {
  const cases: Array<[string, RegExp]> = [
    ['', /empty/],
    ['   ', /empty/],
    ['1,,2', /empty part/],
    ['1,', /empty part/],
    ['10-1', /reversed.*"1-10"/],
    ['1-10:0', /step.*at least 1/],
    ['1-10:-2', /step.*at least 1/],
    ['-5', /negative/],
    ['-5--1', /negative/],
    ['abc', /not a frame/],
    ['1-', /not a frame/],
    ['1-2-3', /not a frame/],
    ['7:2', /not a frame/],
    ['1.5', /not a frame/],
    [`${MAX_FRAME + 1}`, /beyond Blender's last frame/],
    ['0-1048574', /more than 1,000,000 frames/],
    ['1-600000,1-600000', /more than 1,000,000 frames/],
  ];
  for (const [expression, message] of cases) {
    assert.throws(
      () => parseFrames(expression),
      (err: unknown) => err instanceof FrameExpressionError && message.test(err.message) && err.expression === expression,
      `expected ${message} for "${expression}"`,
    );
  }
});

test('formats compact lists', () => {
  assert.equal(formatFrameList([1, 2, 3, 4, 5]), '1-5');
  assert.equal(formatFrameList([11, 13]), '11,13');
  assert.equal(formatFrameList([1, 6, 11, 16, 21]), '1-21:5');
  assert.equal(formatFrameList([1, 5, 10, 11, 12]), '1,5,10-12');
  assert.equal(formatFrameList([6, 7]), '6-7');
  assert.equal(formatFrameList([]), '');
});

test('chunks contiguous runs into ranges, in order', () => {
  assert.deepEqual(chunkFrames(parseFrames('1-10,11,13'), 5), [
    { frames: [1, 2, 3, 4, 5], label: '1-5', range: { start: 1, end: 5, step: 1 } },
    { frames: [6, 7, 8, 9, 10], label: '6-10', range: { start: 6, end: 10, step: 1 } },
    { frames: [11, 13], label: '11,13', range: { start: 11, end: 13, step: 2 } },
  ]);
  // A stepped range packs into stepped chunks.
  assert.deepEqual(
    chunkFrames(parseFrames('1-50:5'), 4).map((c) => [c.label, c.range]),
    [
      ['1-16:5', { start: 1, end: 16, step: 5 }],
      ['21-36:5', { start: 21, end: 36, step: 5 }],
      ['41,46', { start: 41, end: 46, step: 5 }],
    ],
  );
  // A run is not split across chunks when it fits in one; scattered frames are packed.
  assert.deepEqual(
    chunkFrames(parseFrames('1-7,20-27'), 5).map((c) => c.label),
    ['1-5', '6-7', '20-24', '25-27'],
  );
  const mixed = chunkFrames(parseFrames('1,3,7,12,19,40'), 5);
  assert.deepEqual(mixed.map((c) => c.label), ['1,3,7,12,19', '40']);
  assert.equal(mixed[0]!.range, undefined, 'not an arithmetic run: render with -f list');
  assert.throws(() => chunkFrames([1], 0), RangeError);
  assert.deepEqual(chunkFrames([], 3), []);
});

const frameList = fc.uniqueArray(fc.integer({ min: 0, max: 3000 }), { maxLength: 300 });

test('property: formatFrameList round-trips through parseFrames', () => {
  fc.assert(
    fc.property(frameList.filter((f) => f.length > 0), (frames) => {
      const sorted = [...frames].sort((a, b) => a - b);
      assert.deepEqual(parseFrames(formatFrameList(frames)), sorted);
    }),
  );
});

test('property: parseFrames matches a naive expansion of random expressions', () => {
  const part = fc
    .tuple(fc.integer({ min: 0, max: 2000 }), fc.integer({ min: 0, max: 200 }), fc.integer({ min: 1, max: 12 }), fc.nat(2))
    .map(([start, length, step, shape]) =>
      shape === 0
        ? { text: `${start}`, frames: [start] }
        : shape === 1
          ? { text: `${start}-${start + length}`, frames: Array.from({ length: length + 1 }, (_, i) => start + i) }
          : {
              text: ` ${start} - ${start + length} : ${step} `,
              frames: Array.from({ length: Math.floor(length / step) + 1 }, (_, i) => start + i * step),
            },
    );
  fc.assert(
    fc.property(fc.array(part, { minLength: 1, maxLength: 8 }), (parts) => {
      const expected = [...new Set(parts.flatMap((p) => p.frames))].sort((a, b) => a - b);
      assert.deepEqual(parseFrames(parts.map((p) => p.text).join(',')), expected);
    }),
  );
});

test('property: chunks cover every frame once, in order, within the size, with honest labels', () => {
  fc.assert(
    fc.property(frameList, fc.integer({ min: 1, max: 40 }), (frames, size) => {
      const sorted = [...frames].sort((a, b) => a - b);
      const chunks = chunkFrames(frames, size);
      assert.deepEqual(chunks.flatMap((c) => c.frames), sorted);
      for (const c of chunks) {
        assert.ok(c.frames.length >= 1 && c.frames.length <= size);
        assert.deepEqual(parseFrames(c.label), c.frames);
        assert.deepEqual(c.range, frameRangeOf(c.frames));
        if (c.range) {
          const { start, end, step } = c.range;
          assert.deepEqual(c.frames, Array.from({ length: (end - start) / step + 1 }, (_, i) => start + i * step));
        }
      }
      // Never more tasks than one per run piece: at most ceil(n/size) + number of gaps.
      const gaps = sorted.filter((f, i) => i > 0 && f !== sorted[i - 1]! + 1).length;
      assert.ok(chunks.length <= Math.ceil(sorted.length / size) + gaps);
    }),
  );
});

test('property: contiguous input gives the minimum number of range chunks', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 5000 }), fc.integer({ min: 1, max: 500 }), fc.integer({ min: 1, max: 50 }), (start, n, size) => {
      const frames = Array.from({ length: n }, (_, i) => start + i);
      const chunks = chunkFrames(frames, size);
      assert.equal(chunks.length, Math.ceil(n / size));
      assert.ok(chunks.every((c) => c.range?.step === 1));
    }),
  );
});

/** The packing rule as first written (runs cut to the size, packed while they fit), kept as the oracle. */
function packedChunks(sorted: number[], size: number): number[][] {
  const out: number[][] = [];
  let run: number[] = [];
  let current: number[] = [];
  for (let i = 0; i <= sorted.length; i++) {
    const f = sorted[i];
    if (run.length > 0 && (f === undefined || f !== run[run.length - 1]! + 1 || run.length === size)) {
      if (current.length + run.length > size) {
        out.push(current);
        current = [];
      }
      current.push(...run);
      run = [];
    }
    if (f !== undefined) run.push(f);
  }
  if (current.length > 0) out.push(current);
  return out;
}

test('property: chunks are the packing rule, and countChunks counts them without making them', () => {
  fc.assert(
    fc.property(frameList, fc.integer({ min: 1, max: 40 }), (frames, size) => {
      const expected = packedChunks([...frames].sort((a, b) => a - b), size);
      assert.deepEqual(chunkFrames(frames, size).map((c) => c.frames), expected);
      assert.equal(countChunks(frames, size), expected.length);
    }),
  );
  // One arithmetic run is counted by arithmetic: the same count.
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 5000 }), fc.integer({ min: 1, max: 400 }), fc.integer({ min: 1, max: 7 }), fc.integer({ min: 1, max: 40 }), (start, n, step, size) => {
      const frames = Array.from({ length: n }, (_, i) => start + i * step);
      assert.equal(countChunks(frames, size), packedChunks(frames, size).length);
    }),
  );
});
