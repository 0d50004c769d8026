// Usage arithmetic, pure: an attempt's time cut at UTC midnights (the ledger keeps one row per day
// an attempt ran on), the calendar month a budget counts, and the dates `drover usage` takes.

const DAY_MS = 86_400_000;

export interface DayPart {
  /** YYYY-MM-DD, UTC. */
  day: string;
  seconds: number;
}

/** The UTC day of an ISO time. */
export function dayOf(iso: string): string {
  return new Date(iso).toISOString().slice(0, 10);
}

/** The seconds from `startIso` to `endIso`, cut at each UTC midnight between them (none when it ended before it started). */
export function splitByDay(startIso: string, endIso: string): DayPart[] {
  const start = Date.parse(startIso);
  const end = Date.parse(endIso);
  if (!(end > start)) return [{ day: dayOf(startIso), seconds: 0 }];
  // The common case, both times of one UTC day as the store writes them (toISOString: 24 characters
  // ending in Z): no Date to make, once for every attempt that ends.
  if (startIso.length === 24 && endIso.length === 24 && startIso.endsWith('Z') && endIso.endsWith('Z') && startIso.slice(0, 10) === endIso.slice(0, 10)) {
    return [{ day: startIso.slice(0, 10), seconds: (end - start) / 1000 }];
  }
  const parts: DayPart[] = [];
  for (let from = start; from < end; ) {
    const midnight = (Math.floor(from / DAY_MS) + 1) * DAY_MS;
    const to = Math.min(end, midnight);
    parts.push({ day: new Date(from).toISOString().slice(0, 10), seconds: (to - from) / 1000 });
    from = to;
  }
  return parts;
}

/** The first day (YYYY-MM-DD) of the calendar month (UTC) of `now`: a monthly budget counts from it. */
export function monthStartDay(now: Date): string {
  return `${now.toISOString().slice(0, 7)}-01`;
}

/** Midnight UTC opening the month of `now`, as an ISO time. */
export function monthStartIso(now: Date): string {
  return `${monthStartDay(now)}T00:00:00.000Z`;
}

/** A day given by a person (`2026-12-01`, or any date or time: its UTC day), or null when it is no date. */
export function parseDay(text: string): string | null {
  if (!/^\d{4}-\d{2}-\d{2}/.test(text)) return null;
  const ms = Date.parse(text);
  if (!Number.isFinite(ms)) return null;
  return new Date(ms).toISOString().slice(0, 10);
}

/** Core-hours in words for tables: `0.25`, `12.5`, `1,234`. */
export function hoursText(coreSeconds: number): string {
  const h = coreSeconds / 3600;
  if (h === 0) return '0';
  if (h < 0.01) return '<0.01';
  return h >= 100 ? Math.round(h).toLocaleString('en-US') : String(Math.round(h * 100) / 100);
}
