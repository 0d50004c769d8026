// A reader for the Prometheus text format (0.0.4), enough for the fleet: samples with their labels.
// Written carefully rather than with a regex per line, because label values may hold any
// character (quotes, commas, braces, escaped newlines) and a sample may carry a timestamp.
// Kept hand-made while the writer moved to prom-client (issue #25): prom-client writes the format
// but cannot read it, and the fleet needs flat samples from its own coordinator only; these lines,
// covered by prometheus.test.ts (escapes, special values, malformed lines), cost less than another dependency.

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export class MetricsFormatError extends Error {
  override name = 'MetricsFormatError';
}

const NAME = /[a-zA-Z_:][a-zA-Z0-9_:]*/y;
const LABEL_NAME = /[a-zA-Z_][a-zA-Z0-9_]*/y;

function parseValue(text: string): number {
  switch (text) {
    case '+Inf':
      return Infinity;
    case '-Inf':
      return -Infinity;
    case 'NaN':
      return NaN;
  }
  const n = Number(text);
  if (text === '' || Number.isNaN(n)) throw new MetricsFormatError(`not a sample value: "${text}"`);
  return n;
}

/** Parses one sample line (not a comment, not blank). */
export function parseSampleLine(line: string): Sample {
  let i = 0;
  const fail = (what: string): never => {
    throw new MetricsFormatError(`${what} at column ${i + 1} of "${line}"`);
  };
  const match = (re: RegExp): string | null => {
    re.lastIndex = i;
    const m = re.exec(line);
    if (!m) return null;
    i = re.lastIndex;
    return m[0];
  };
  const skipSpaces = () => {
    while (line[i] === ' ' || line[i] === '\t') i++;
  };

  const name = match(NAME) ?? fail('expected a metric name');
  const labels: Record<string, string> = {};
  skipSpaces();
  if (line[i] === '{') {
    i++;
    for (;;) {
      skipSpaces();
      if (line[i] === '}') break;
      const key = match(LABEL_NAME) ?? fail('expected a label name');
      skipSpaces();
      if (line[i++] !== '=') fail('expected "="');
      skipSpaces();
      if (line[i++] !== '"') fail('expected a quoted label value');
      let value = '';
      for (;;) {
        const c = line[i++];
        if (c === undefined) fail('unterminated label value');
        if (c === '"') break;
        if (c === '\\') {
          const e = line[i++];
          if (e === 'n') value += '\n';
          else if (e === '\\' || e === '"') value += e;
          else fail('unknown escape in a label value');
        } else value += c;
      }
      labels[key] = value;
      skipSpaces();
      if (line[i] === ',') i++;
      else if (line[i] !== '}') fail('expected "," or "}"');
    }
    i++;
  }
  // The value, then an optional timestamp (milliseconds) that the fleet has no use for.
  const rest = line.slice(i).trim().split(/[ \t]+/);
  if (rest.length < 1 || rest.length > 2) fail('expected a value and an optional timestamp');
  return { name, labels, value: parseValue(rest[0]!) };
}

/** All samples of a scrape; `# HELP`/`# TYPE` and other comments are skipped. */
export function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    samples.push(parseSampleLine(line));
  }
  return samples;
}
