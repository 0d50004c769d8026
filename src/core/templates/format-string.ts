// OpenJD format strings (jobtemplate-2023-09 §7.3): text with `{{ Name.Name }}` interpolations,
// resolved against the values known at each stage (job creation, or the task on its host).
// Pure: no I/O.

/** A part of a parsed format string: literal text, or a dotted value reference. */
export type FormatPart = { text: string } | { ref: string };

const REF = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/;

export class FormatStringError extends Error {}

/** Splits a format string into text and references; throws on an unclosed or malformed `{{ }}`. */
export function parseFormatString(source: string): FormatPart[] {
  const parts: FormatPart[] = [];
  let at = 0;
  while (at < source.length) {
    const open = source.indexOf('{{', at);
    if (open < 0) {
      parts.push({ text: source.slice(at) });
      break;
    }
    if (open > at) parts.push({ text: source.slice(at, open) });
    const close = source.indexOf('}}', open + 2);
    if (close < 0) throw new FormatStringError(`"{{" at character ${open + 1} is never closed with "}}"`);
    const ref = source.slice(open + 2, close).trim();
    if (!REF.test(ref)) throw new FormatStringError(`"{{${source.slice(open + 2, close)}}}" is not a value reference such as {{Param.Frame}}`);
    parts.push({ ref });
    at = close + 2;
  }
  return parts;
}

/** The value references a format string makes, in order. */
export function formatReferences(source: string): string[] {
  return parseFormatString(source).flatMap((p) => ('ref' in p ? [p.ref] : []));
}

/**
 * Resolves a format string. `lookup` answers a reference's value, or undefined when the reference
 * is unknown, which is an error naming it.
 */
export function resolveFormatString(source: string, lookup: (ref: string) => string | undefined): string {
  let out = '';
  for (const part of parseFormatString(source)) {
    if ('text' in part) {
      out += part.text;
      continue;
    }
    const value = lookup(part.ref);
    if (value === undefined) throw new FormatStringError(`{{${part.ref}}} names no value available here`);
    out += value;
  }
  return out;
}

/** A lookup over a plain map of reference → value. */
export function mapLookup(values: ReadonlyMap<string, string> | Record<string, string>): (ref: string) => string | undefined {
  if (values instanceof Map) return (ref) => values.get(ref);
  const record = values as Record<string, string>;
  return (ref) => (Object.prototype.hasOwnProperty.call(record, ref) ? record[ref] : undefined);
}
