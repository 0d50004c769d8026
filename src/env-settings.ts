// Reading numeric settings from the environment, shared by the coordinator's and the agent's
// config modules: one rule for what a bad value is and one way of saying so.

/** A setting (environment or flag) that cannot be used: the CLI prints it as one line (src/cli/session.ts). */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** A positive number from the environment, `fallback` when unset or empty. */
export function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new ConfigError(`${name} must be a positive number, not "${raw}"`);
  return value;
}

/** A number of bytes (0 or more) from the environment, `fallback` when unset or empty. */
export function envBytesOrZero(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new ConfigError(`${name} must be a number of bytes (0 or more), not "${raw}"`);
  return value;
}

/** A number of seconds (0 or more) from the environment, `fallback` when unset or empty. */
export function envSecondsOrZero(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new ConfigError(`${name} must be a number of seconds (0 or more), not "${raw}"`);
  return value;
}
