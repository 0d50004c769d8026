// Option parsers shared by the commands: a bad value is a clear error, not a NaN downstream.
import type { Command } from 'commander';
import { parseRequirement } from '../core/job-requirements.js';
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

/** `--priority N`: a whole number from 0 to 100 (higher runs first). */
export function priorityArg(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > 100) throw new CliError(`--priority must be a whole number from 0 to 100 (higher runs first; default 50), not "${text}"`);
  return n;
}

/** `--after JOB[,JOB…]`: job ids, commas or repeats. */
export function afterArg(text: string, previous: string[] = []): string[] {
  const ids = text.split(',').map((id) => id.trim()).filter((id) => id.length > 0);
  if (ids.length === 0) throw new CliError('--after needs at least one job id (--after JOB[,JOB…])');
  return [...previous, ...ids];
}

/** The request fields of `--after` and `--after-any` (which means nothing alone). */
export function afterFields(opts: { after?: string[]; afterAny?: boolean }): { after?: string[]; afterAny?: boolean } {
  if (opts.afterAny && !opts.after) throw new CliError('--after-any goes with --after JOB[,JOB…]: it says how to wait for those jobs');
  return opts.after ? { after: opts.after, ...(opts.afterAny ? { afterAny: true } : {}) } : {};
}

/** `--require key=value`, repeatable: the labels an agent must carry. */
export function requireArg(text: string, previous: Record<string, string> = {}): Record<string, string> {
  const parsed = parseRequirement(text);
  if ('problem' in parsed) throw new CliError(parsed.problem);
  return { ...previous, [parsed.key]: parsed.value };
}

/** The request fields of `--cores`, `--memory`, `--gpus` and `--require`. */
export function requirementFields(opts: { cores?: number; memory?: number; gpus?: number; require?: Record<string, string> }): { cores?: number; requirements?: { memoryMiB?: number; gpus?: number; labels?: Record<string, string> } } {
  const requirements = {
    ...(opts.memory ? { memoryMiB: opts.memory } : {}),
    ...(opts.gpus ? { gpus: opts.gpus } : {}),
    ...(opts.require ? { labels: opts.require } : {}),
  };
  return { ...(opts.cores ? { cores: opts.cores } : {}), ...(Object.keys(requirements).length > 0 ? { requirements } : {}) };
}

/** What `--priority`, `--after`, `--after-any`, `--cores`, `--memory`, `--gpus` and `--require` parse to. */
export interface SchedulingOptions {
  priority?: number;
  after?: string[];
  afterAny?: boolean;
  cores?: number;
  memory?: number;
  gpus?: number;
  require?: Record<string, string>;
}

/** Adds the scheduling options every job-submitting command takes (script, render, template). */
export function addSchedulingOptions(command: Command): Command {
  return command
    .option('--priority <n>', 'priority from 0 to 100, higher runs first (default 50)', priorityArg)
    .option('--after <jobs>', 'run once these jobs (JOB[,JOB…]) are done; canceled if one errors or is canceled', afterArg)
    .option('--after-any', 'with --after: run once those jobs have ended, whatever their state')
    .option('--cores <n>', 'cores per task, instead of the instance type\'s', positiveInt('--cores'))
    .option('--memory <MiB>', 'memory each task may use (MiB): it runs only on agents with that much, and is killed if it uses more (default: its cores\' share of the agent\'s)', positiveInt('--memory'))
    .option('--gpus <n>', 'run only on agents with at least this many GPUs', positiveInt('--gpus'))
    .option('--require <key=value>', 'run only on agents with this label (their --label); repeatable', requireArg);
}

/** The request fields of the scheduling options. */
export function schedulingFields(opts: SchedulingOptions) {
  return { ...(opts.priority !== undefined ? { priority: opts.priority } : {}), ...afterFields(opts), ...requirementFields(opts) };
}

/** What `--max-attempts`, `--timeout` and `--image` parse to, beside the scheduling options. */
export interface RunOptions extends SchedulingOptions {
  maxAttempts?: number;
  timeout?: number;
  image?: string;
}

/**
 * The request fields every job-submitting command (script, render, template) takes alike: attempts,
 * scheduling, task timeout and image, each sent only when given (otherwise the farm's default).
 */
export function runFields(opts: RunOptions) {
  return {
    ...(opts.maxAttempts ? { maxAttempts: opts.maxAttempts } : {}),
    ...schedulingFields(opts),
    ...(opts.timeout ? { taskTimeoutSeconds: opts.timeout } : {}),
    ...(opts.image ? { image: opts.image } : {}),
  };
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
