// Frame expressions ("1-250", "1-250:5", "1,5,10-20", "7") and how a job's frames are cut into
// tasks. Pure functions, no I/O: the CLI, the coordinator and the agent all share this module.

/** Blender's MAXFRAME: the highest frame number Blender accepts. */
export const MAX_FRAME = 1_048_574;
/** A larger expression is almost certainly a typo; refusing it also keeps memory bounded. */
export const MAX_FRAME_COUNT = 1_000_000;

export class FrameExpressionError extends Error {
  override name = 'FrameExpressionError';
  constructor(
    message: string,
    /** The expression as the user typed it. */
    readonly expression: string,
  ) {
    super(message);
  }
}

/** An arithmetic run of frames: start, start+step, …, end (end is always one of the frames). */
export interface FrameRange {
  start: number;
  end: number;
  step: number;
}

export interface FrameChunk {
  /** Sorted, distinct frames of this chunk. */
  frames: number[];
  /** Compact expression of the frames, e.g. "1-5", "6-10", "11,13", "1-21:5". */
  label: string;
  /** Present when the frames form one arithmetic run, so Blender can render them with
   *  `-s start -e end -j step -a`; otherwise render them as a list with `-f a,b,c`. */
  range?: FrameRange;
}

const NUMBER = String.raw`(-?\d+)`;
// "A", "A-B", "A-B:S"; Blender's own "A..B" is accepted as a synonym of "A-B".
const PART = new RegExp(String.raw`^${NUMBER}(?:\s*(?:-|\.\.)\s*${NUMBER}(?:\s*:\s*${NUMBER})?)?$`);

/**
 * Parse a frame expression into a sorted, de-duplicated list of frames.
 * Throws FrameExpressionError with a message meant for the user.
 */
export function parseFrames(expression: string): number[] {
  const fail = (why: string): never => {
    throw new FrameExpressionError(`invalid frame expression "${expression}": ${why}`, expression);
  };
  if (expression.trim() === '') fail('it is empty (expected e.g. "1-250", "1-250:5" or "1,5,10-20")');

  const ranges: FrameRange[] = [];
  let total = 0;
  for (const rawPart of expression.split(',')) {
    const part = rawPart.trim();
    if (part === '') fail('it has an empty part between commas');
    const m = PART.exec(part);
    if (!m) fail(`"${part}" is not a frame, a range "A-B" or a stepped range "A-B:STEP"`);
    const start = toFrame(m![1]!, part, fail);
    const end = m![2] === undefined ? start : toFrame(m![2], part, fail);
    let step = 1;
    if (m![3] !== undefined) {
      step = Number(m![3]);
      if (!Number.isSafeInteger(step) || step <= 0) fail(`step in "${part}" must be a whole number of at least 1`);
    }
    if (end < start) fail(`range "${part}" is reversed (did you mean "${end}-${start}"?)`);
    // Count before expanding, so "0-1048574" fails fast instead of allocating a million frames.
    total += Math.floor((end - start) / step) + 1;
    if (total > MAX_FRAME_COUNT) fail(`it has more than ${MAX_FRAME_COUNT.toLocaleString('en-US')} frames`);
    ranges.push({ start, end, step });
  }

  const frames: number[] = [];
  for (const { start, end, step } of ranges) for (let f = start; f <= end; f += step) frames.push(f);
  // Ranges given in order ("1-1000000") are already sorted: no copy to sort.
  return strictlyAscending(frames) ? frames : sortedUnique(frames);
}

function toFrame(text: string, part: string, fail: (why: string) => never): number {
  const n = Number(text);
  if (n < 0 || text.startsWith('-')) fail(`frames cannot be negative ("${part}")`);
  if (!Number.isSafeInteger(n) || n > MAX_FRAME) fail(`frame ${text} in "${part}" is beyond Blender's last frame ${MAX_FRAME}`);
  return n;
}

function sortedUnique(frames: number[]): number[] {
  const sorted = Float64Array.from(frames).sort(); // numeric sort, faster than Array#sort with a comparator
  const out: number[] = [];
  for (const f of sorted) if (out.length === 0 || out[out.length - 1] !== f) out.push(f);
  return out;
}

/**
 * A compact expression for a list of frames that parseFrames() reads back to the same list:
 * consecutive frames become "A-B", arithmetic runs of three or more become "A-B:STEP".
 */
export function formatFrameList(frames: readonly number[]): string {
  const sorted = ascendingFrames(frames);
  const parts: string[] = [];
  let i = 0;
  while (i < sorted.length) {
    const start = sorted[i]!;
    const next = sorted[i + 1];
    if (next === undefined) {
      parts.push(String(start));
      break;
    }
    const step = next - start;
    let j = i + 1;
    while (j + 1 < sorted.length && sorted[j + 1]! - sorted[j]! === step) j++;
    const runLength = j - i + 1;
    if (step === 1) {
      parts.push(`${start}-${sorted[j]}`);
      i = j + 1;
    } else if (runLength >= 3) {
      parts.push(`${start}-${sorted[j]}:${step}`);
      i = j + 1;
    } else {
      // Two frames with a gap: "11,13" reads better than "11-13:2".
      parts.push(String(start));
      i += 1;
    }
  }
  return parts.join(',');
}

/** The arithmetic run the frames form, or undefined when they do not form one. */
export function frameRangeOf(frames: readonly number[]): FrameRange | undefined {
  const [first, second] = frames;
  if (first === undefined) return undefined;
  const step = second === undefined ? 1 : second - first;
  if (step <= 0) return undefined;
  for (let i = 1; i < frames.length; i++) if (frames[i]! - frames[i - 1]! !== step) return undefined;
  return { start: first, end: frames[frames.length - 1]!, step };
}

/**
 * Cut frames into tasks of at most `chunkSize` frames, in order.
 *
 * Each run of consecutive frames is cut into pieces of `chunkSize`; pieces shorter than that
 * (a run's tail, isolated frames, the frames of a stepped range) are packed together while they
 * fit. So a chunk never splits a run it could have held whole, long runs give `-s/-e` ranges,
 * and scattered frames are not each paid for with a Blender start.
 */
export function chunkFrames(frames: readonly number[], chunkSize: number): FrameChunk[] {
  return Array.from(chunkFramesLazily(frames, chunkSize));
}

/**
 * chunkFrames one chunk at a time, for jobs of very many chunks: the caller stores each batch as
 * it comes instead of holding a million chunks at once.
 */
export function* chunkFramesLazily(frames: readonly number[], chunkSize: number): Generator<FrameChunk> {
  const sorted = ascendingFrames(frames);
  for (const [from, to] of chunkSpans(sorted, chunkSize)) yield chunkOf(sorted.slice(from, to));
}

/** How many chunks chunkFrames makes, without making them (a million-frame job is counted in milliseconds). */
export function countChunks(frames: readonly number[], chunkSize: number): number {
  const sorted = ascendingFrames(frames);
  // One arithmetic run ("1-1000000", "1-999:2"), the usual case: chunks of chunkSize but the last.
  if (frameRangeOf(sorted) && Number.isSafeInteger(chunkSize) && chunkSize >= 1) return Math.ceil(sorted.length / chunkSize);
  let count = 0;
  for (const _ of chunkSpans(sorted, chunkSize)) count++;
  return count;
}

const ascendingFrames = (frames: readonly number[]): readonly number[] => (strictlyAscending(frames) ? frames : sortedUnique([...frames]));

/**
 * The chunking rule itself, as spans [from, to) of the sorted frames (a chunk is always a
 * contiguous slice of them). A piece is a run of consecutive frames of at most chunkSize; pieces
 * are packed into the current chunk while they fit.
 */
function* chunkSpans(sorted: readonly number[], chunkSize: number): Generator<[number, number]> {
  if (!Number.isSafeInteger(chunkSize) || chunkSize < 1) {
    throw new RangeError(`chunk size must be a whole number of at least 1, got ${chunkSize}`);
  }
  let chunkStart = 0;
  let runStart = 0;
  for (let i = 0; i <= sorted.length; i++) {
    const f = sorted[i];
    const run = i - runStart;
    if (run > 0 && (f === undefined || f !== sorted[i - 1]! + 1 || run === chunkSize)) {
      if (runStart - chunkStart + run > chunkSize) {
        yield [chunkStart, runStart];
        chunkStart = runStart;
      }
      runStart = i;
    }
  }
  if (sorted.length > chunkStart) yield [chunkStart, sorted.length];
}

function strictlyAscending(frames: readonly number[]): boolean {
  for (let i = 1; i < frames.length; i++) if (!(frames[i]! > frames[i - 1]!)) return false;
  return true;
}

// Most chunks are one arithmetic run: their label is read off the run (a million chunks of a
// huge job each sorting a copy of themselves for formatFrameList cost the event loop seconds).
function chunkOf(c: number[]): FrameChunk {
  const range = frameRangeOf(c);
  return range ? { frames: c, label: runLabel(range, c.length), range } : { frames: c, label: formatFrameList(c) };
}

/** What formatFrameList says for the frames of one arithmetic run. */
function runLabel({ start, end, step }: FrameRange, count: number): string {
  if (count === 1) return String(start);
  if (step === 1) return `${start}-${end}`;
  return count >= 3 ? `${start}-${end}:${step}` : `${start},${end}`;
}
