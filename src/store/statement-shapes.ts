// Lists of values sized so that statements share their SQL text. SQLite keeps prepared statements
// by their text (database.ts), but an `IN (?, ?, …)` list or a multi-row INSERT has a different
// text for every length: the agent protocol's batches, sized by how many requests arrived together,
// made nearly every statement a new one to parse and plan. Lengths are rounded to a handful of
// shapes instead (powers of two up to MAX_LIST), each prepared once.

/** The longest list in one statement: far below SQLite's variable limit and PostgreSQL's 65535. */
export const MAX_LIST = 512;

/** The shape a list of `n` values is given: the next power of two, at most MAX_LIST. */
export function shapeOf(n: number): number {
  let size = 1;
  while (size < n && size < MAX_LIST) size *= 2;
  return size;
}

/**
 * Values for `IN (…)` lists, split into lists of at most MAX_LIST and each padded to its shape by
 * repeating its last value (which changes nothing an IN list matches).
 */
export function inLists<T>(values: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < values.length; i += MAX_LIST) {
    const part = values.slice(i, i + MAX_LIST);
    const last = part[part.length - 1]!;
    while (part.length < shapeOf(part.length)) part.push(last);
    out.push(part);
  }
  return out;
}

/**
 * Rows for multi-row INSERTs, split into batches whose sizes are powers of two (37 rows: 32, 4
 * and 1): rows cannot be repeated, so the shapes are made by splitting instead of padding.
 */
export function insertBatches<T>(rows: readonly T[]): T[][] {
  const out: T[][] = [];
  let i = 0;
  while (i < rows.length) {
    let size = MAX_LIST;
    while (size > rows.length - i) size /= 2;
    out.push(rows.slice(i, i + size));
    i += size;
  }
  return out;
}
