// The combination expression of a step's parameter space (jobtemplate-2023-09 §3.4.3):
// `A * B` is every pair, `(A, B)` pairs values by position, and they nest: `(A, B) * C`.
// Pure: no I/O.

export type CombinationExpr = { param: string } | { product: CombinationExpr[] } | { zip: CombinationExpr[] };

export class CombinationError extends Error {}

const TOKEN = /\s*([A-Za-z_][A-Za-z0-9_]*|[*(),])/y;

export function parseCombination(source: string): CombinationExpr {
  const tokens: string[] = [];
  TOKEN.lastIndex = 0;
  let at = 0;
  while (at < source.length) {
    if (/^\s*$/.test(source.slice(at))) break;
    TOKEN.lastIndex = at;
    const m = TOKEN.exec(source);
    if (!m) throw new CombinationError(`unexpected "${source.slice(at).trim()[0]}" at character ${at + 1}`);
    tokens.push(m[1]!);
    at = TOKEN.lastIndex;
  }
  let i = 0;
  const expect = (t: string) => {
    if (tokens[i] !== t) throw new CombinationError(`expected "${t}" ${tokens[i] === undefined ? 'at the end' : `before "${tokens[i]}"`}`);
    i++;
  };
  const product = (): CombinationExpr => {
    const factors = [element()];
    while (tokens[i] === '*') {
      i++;
      factors.push(element());
    }
    return factors.length === 1 ? factors[0]! : { product: factors };
  };
  const element = (): CombinationExpr => {
    const t = tokens[i];
    if (t === '(') {
      i++;
      const members = [product()];
      while (tokens[i] === ',') {
        i++;
        members.push(product());
      }
      expect(')');
      return { zip: members };
    }
    if (t === undefined || !/^[A-Za-z_]/.test(t)) throw new CombinationError(t === undefined ? 'it ends where a parameter name was expected' : `expected a parameter name, found "${t}"`);
    i++;
    return { param: t };
  };
  const expr = product();
  if (i < tokens.length) throw new CombinationError(`unexpected "${tokens[i]}"`);
  return expr;
}

/** Every parameter name the expression uses, in order (with repeats). */
export function combinationParams(expr: CombinationExpr): string[] {
  if ('param' in expr) return [expr.param];
  return ('product' in expr ? expr.product : expr.zip).flatMap(combinationParams);
}

/** How many points the expression's space has, given each parameter's count of values. */
export function combinationSize(expr: CombinationExpr, counts: ReadonlyMap<string, number>): number {
  if ('param' in expr) return counts.get(expr.param) ?? 0;
  if ('product' in expr) return expr.product.reduce((n, e) => n * combinationSize(e, counts), 1);
  const sizes = expr.zip.map((e) => combinationSize(e, counts));
  if (sizes.some((s) => s !== sizes[0])) {
    throw new CombinationError(`(${expr.zip.map((e) => combinationParams(e).join(' * ')).join(', ')}) pairs values by position, but they have ${sizes.join(' and ')} values`);
  }
  return sizes[0]!;
}

/**
 * The space as columns: for each parameter, the index of its value at every point, in order (the
 * leftmost factor varies slowest). Typed arrays and strides instead of a map per point: a space of
 * 100,000 points is made in a few milliseconds. Call combinationSize first: it checks the zips.
 */
export function combinationColumns(expr: CombinationExpr, counts: ReadonlyMap<string, number>): { size: number; columns: Map<string, Int32Array> } {
  if ('param' in expr) {
    const n = counts.get(expr.param) ?? 0;
    const col = new Int32Array(n);
    for (let k = 0; k < n; k++) col[k] = k;
    return { size: n, columns: new Map([[expr.param, col]]) };
  }
  const parts = ('product' in expr ? expr.product : expr.zip).map((e) => combinationColumns(e, counts));
  if ('zip' in expr) return { size: parts[0]?.size ?? 0, columns: new Map(parts.flatMap((p) => [...p.columns])) };
  const size = parts.reduce((n, p) => n * p.size, 1);
  const columns = new Map<string, Int32Array>();
  let stride = size;
  for (const part of parts) {
    stride = part.size === 0 ? 0 : stride / part.size;
    for (const [name, inner] of part.columns) {
      const col = new Int32Array(size);
      for (let i = 0; i < size; i++) col[i] = inner[Math.floor(i / stride) % part.size]!;
      columns.set(name, col);
    }
  }
  return { size, columns };
}

/**
 * The points of the space in order (the leftmost factor varies slowest), each a map of parameter
 * name to its value's index. Call combinationSize first: it checks the zips' lengths.
 */
export function* combinationPoints(expr: CombinationExpr, counts: ReadonlyMap<string, number>): Generator<Map<string, number>> {
  if ('param' in expr) {
    const n = counts.get(expr.param) ?? 0;
    for (let k = 0; k < n; k++) yield new Map([[expr.param, k]]);
    return;
  }
  if ('zip' in expr) {
    const iterators = expr.zip.map((e) => combinationPoints(e, counts));
    for (;;) {
      const point = new Map<string, number>();
      for (const it of iterators) {
        const next = it.next();
        if (next.done) return;
        for (const [k, v] of next.value) point.set(k, v);
      }
      yield point;
    }
  }
  const [first, ...rest] = expr.product;
  if (!first) return;
  const tail: CombinationExpr = rest.length === 1 ? rest[0]! : { product: rest };
  for (const head of combinationPoints(first, counts)) {
    if (rest.length === 0) {
      yield head;
      continue;
    }
    for (const more of combinationPoints(tail, counts)) yield new Map([...head, ...more]);
  }
}
