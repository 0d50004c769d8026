// Option parsers shared by the commands: a bad value is a clear error, not a NaN downstream.
import { CliError } from './session.js';

/** A parser for a whole number of at least 1, named in its error message. */
export function positiveInt(name: string) {
  return (text: string): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < 1) throw new CliError(`${name} must be a whole number of at least 1, not "${text}"`);
    return n;
  };
}

/** A parser for a whole number of at least 0, named in its error message. */
export function nonNegativeInt(name: string) {
  return (text: string): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < 0) throw new CliError(`${name} must be a whole number of at least 0, not "${text}"`);
    return n;
  };
}

export function parsePort(text: string): number {
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CliError(`--port must be a port number, not "${text}"`);
  return port;
}

const AGE_UNITS_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** A parser for an age such as `30d`, `12h`, `45m` (a bare number is days), in milliseconds. */
export function ageMs(name: string) {
  return (text: string): number => {
    const m = /^(\d+(?:\.\d+)?)\s*([smhdw]?)$/i.exec(text.trim());
    if (!m || Number(m[1]) <= 0) throw new CliError(`${name} must be an age such as 30d, 12h or 45m, not "${text}"`);
    return Number(m[1]) * AGE_UNITS_MS[(m[2] || 'd').toLowerCase()]!;
  };
}

/** A parser for a number above 0 (fractions allowed), named in its error message. */
export function positiveNumber(name: string) {
  return (text: string): number => {
    const n = Number(text);
    if (!Number.isFinite(n) || n <= 0) throw new CliError(`${name} must be a number above 0, not "${text}"`);
    return n;
  };
}
