// Formatting of times, durations, sizes and counts for dense tables.

const numberFormat = new Intl.NumberFormat('en-US');

export function num(n: number | null | undefined): string {
  return n === null || n === undefined ? '—' : numberFormat.format(n);
}

/** 3h 04m, 5m 07s, 12s, 0.4s. */
export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms < 0) return '—';
  if (ms < 1000) return ms === 0 ? '0s' : `${(ms / 1000).toFixed(1)}s`;
  const total = Math.round(ms / 1000);
  const d = Math.floor(total / 86400);
  const h = Math.floor((total % 86400) / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const two = (v: number) => String(v).padStart(2, '0');
  if (d > 0) return `${d}d ${two(h)}h`;
  if (h > 0) return `${h}h ${two(m)}m`;
  if (m > 0) return `${m}m ${two(s)}s`;
  return `${s}s`;
}

export function seconds(s: number | null | undefined): string {
  return s === null || s === undefined ? '—' : duration(s * 1000);
}

/** A running job's duration ticks on the client; a finished one uses the coordinator's number. */
export function liveDuration(
  item: { durationMs: number | null; startedAt: string | null; finishedAt: string | null },
  now: number,
): number | null {
  if (item.startedAt && !item.finishedAt) {
    const started = Date.parse(item.startedAt);
    if (Number.isFinite(started)) return Math.max(item.durationMs ?? 0, now - started);
  }
  return item.durationMs;
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

/** 2024-05-03 14:07 in local time; today's times are shown as 14:07:31. */
export function dateTime(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '—';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const today = new Date(now);
  const time = `${pad(date.getHours())}:${pad(date.getMinutes())}`;
  if (date.toDateString() === today.toDateString()) return `${time}:${pad(date.getSeconds())}`;
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${time}`;
}

export function fullDateTime(iso: string | null | undefined): string {
  if (!iso) return '';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

/** "4s ago", "3 min ago", "2 h ago". */
export function ago(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return 'never';
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return iso;
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return dateTime(iso, now);
}

export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '—';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value >= 100 || unit === 0 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`;
}

export function plural(n: number, one: string, many = one + 's'): string {
  return `${num(n)} ${n === 1 ? one : many}`;
}

/** Natural order, so job_2 comes before job_10: the coordinator's own rule for inputs. */
export { compareNatural } from '../../src/core/inputs.ts';

/** "Retry failed" gives a task a fresh allowance of attempts: the count shown is this round's. */
export function attemptsTitle(tries: number, attempts: number): string | undefined {
  return attempts > tries ? `${attempts} attempts in all; a retry starts the count again` : undefined;
}
