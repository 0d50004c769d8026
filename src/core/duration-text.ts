// Lengths of time as people write them on a command line: `30d`, `12h`, `4w`, `90m`.

const UNIT_SECONDS: Record<string, number> = { m: 60, h: 3600, d: 86400, w: 7 * 86400 };

/** Seconds in `text` (a whole number and a unit m, h, d or w), or null when it is not one. */
export function parseDurationText(text: string): number | null {
  const m = /^\s*(\d{1,6})\s*([mhdw])\s*$/i.exec(text);
  if (!m) return null;
  const n = Number(m[1]);
  if (n < 1) return null;
  return n * UNIT_SECONDS[m[2]!.toLowerCase()]!;
}
