// OpenJD integer range expressions (jobtemplate-2023-09 §3.4.1.1.1): "1-100", "1-100:5",
// "10-15:2,1-5", "-1-1". Values come out in increasing order; overlapping parts are an error.
// Pure: no I/O.

export class RangeExprError extends Error {}

const ELEMENT = /^(-?\d+)(?:\s*-\s*(-?\d+)(?:\s*:\s*(-?\d+))?)?$/;

/** The values of a range expression, in increasing order, at most `limit` of them. */
export function parseRangeExpr(expression: string, limit = 10_000_000): number[] {
  const fail = (why: string): never => {
    throw new RangeExprError(`range expression "${expression}": ${why}`);
  };
  if (expression.trim() === '') fail('it is empty (expected e.g. "1-100", "1-100:5" or "1,3,5-9")');
  const parts: number[][] = [];
  const spans: (readonly [number, number])[] = [];
  let total = 0;
  for (const raw of expression.split(',')) {
    const part = raw.trim();
    const m = ELEMENT.exec(part);
    if (!m) fail(`"${part}" is not an integer, a range "A-B" or a stepped range "A-B:STEP"`);
    const start = Number(m![1]);
    const end = m![2] === undefined ? start : Number(m![2]);
    const step = m![3] === undefined ? 1 : Number(m![3]);
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end)) fail(`"${part}" is out of range`);
    if (step === 0) fail(`"${part}" has a step of 0`);
    const values: number[] = [];
    // x-y is {x} ∪ {x+mn ≤ y} for n > 0, {x+mn ≥ y} for n < 0 (so "1 - -1" is just [1]).
    for (let v = start; step > 0 ? v <= end : v >= end; v += step) {
      values.push(v);
      if (++total > limit) fail(`it has more than ${limit} values`);
      if (v === start && (step > 0 ? start > end : start < end)) break;
    }
    if (values.length === 0) values.push(start);
    parts.push(values);
    spans.push([Math.min(start, end), Math.max(start, end)]);
  }
  // "No two ranges may overlap": their spans, not only their values (1-10:4 and 10-15 overlap).
  spans.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < spans.length; i++) if (spans[i]![0] <= spans[i - 1]![1]) fail(`its parts overlap at ${spans[i]![0]}`);
  return parts.flat().sort((a, b) => a - b);
}
