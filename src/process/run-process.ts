// Run an external program (Blender, ffmpeg, ffprobe) without blocking the event loop, keeping
// only the tail of its output so a chatty program cannot exhaust memory.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { setPriority } from 'node:os';
import type { Writable } from 'node:stream';

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /**
   * Kill the process (SIGKILL) after this long; with `feed`, this long after it has handed over its
   * input (which may come slowly: a preview is fed frames as they are rendered).
   */
  timeoutMs?: number;
  /** Called with each complete line of stdout and stderr as it arrives. */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** How much of each stream to keep for the result (from the end). Default 1 MiB. */
  keepBytes?: number;
  signal?: AbortSignal;
  /**
   * Feeds the program's stdin (otherwise it has none) while it runs; stdin is closed when the
   * returned promise settles. A program that exits early makes writes fail (EPIPE): `feed` should
   * stop then, and its error is the caller's to read from `RunResult.fed`.
   */
  feed?: (stdin: Writable) => Promise<void>;
  /**
   * A nice value (0–19) for background work that must not slow a foreground program down; the
   * program then runs in a session of its own, whose priority is lowered too (see lowerPriority).
   */
  niceness?: number;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** With `feed`: its error, if it failed (null when it fed everything). */
  fed?: Error | null;
}

/** Thrown when the program could not be started at all (ENOENT: not installed). */
export class ProgramNotFoundError extends Error {
  override name = 'ProgramNotFoundError';
  constructor(readonly program: string) {
    super(`${program} is not installed or not on PATH`);
  }
}

export function runProcess(program: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const keep = options.keepBytes ?? 1024 * 1024;
  return new Promise((resolve, reject) => {
    const background = options.niceness !== undefined;
    const child = spawn(program, args, {
      cwd: options.cwd,
      env: options.env,
      stdio: [options.feed ? 'pipe' : 'ignore', 'pipe', 'pipe'],
      signal: options.signal,
      // A session of its own: see lowerPriority.
      detached: background,
    });
    // Out of the caller's process group, it would outlive a Ctrl-C of the caller: it ends with it.
    const killOnExit = () => child.kill('SIGKILL');
    if (background) {
      process.once('exit', killOnExit);
      if (child.pid !== undefined) lowerPriority(child.pid, options.niceness!);
    }
    let timedOut = false;
    let timer: NodeJS.Timeout | undefined;
    let closed = false;
    const startTimer = () => {
      if (options.timeoutMs === undefined || closed) return;
      timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
      }, options.timeoutMs);
    };
    let fed: Promise<Error | null> | undefined;
    if (options.feed) {
      const stdin = child.stdin!;
      // EPIPE when the program exits before reading everything: `feed` hears of it, never the process.
      stdin.on('error', () => undefined);
      fed = options.feed(stdin).then(
        () => null,
        (err: Error) => err,
      );
      void fed.then(() => {
        stdin.end();
        startTimer();
      });
    } else startTimer();
    const tails = { stdout: '', stderr: '' };
    const partial = { stdout: '', stderr: '' };

    const collect = (stream: 'stdout' | 'stderr') => (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      tails[stream] = (tails[stream] + text).slice(-keep);
      if (!options.onLine) return;
      const lines = (partial[stream] + text).split(/\r?\n|\r/);
      partial[stream] = lines.pop() ?? '';
      for (const line of lines) options.onLine(line, stream);
    };
    child.stdout!.on('data', collect('stdout'));
    child.stderr!.on('data', collect('stderr'));

    child.on('error', (err: NodeJS.ErrnoException) => {
      closed = true;
      clearTimeout(timer);
      reject(err.code === 'ENOENT' ? new ProgramNotFoundError(program) : err);
    });
    child.on('close', (code, signal) => {
      closed = true;
      process.off('exit', killOnExit);
      clearTimeout(timer);
      if (options.onLine) {
        for (const stream of ['stdout', 'stderr'] as const) if (partial[stream]) options.onLine(partial[stream], stream);
      }
      const result = { code, signal, stdout: tails.stdout, stderr: tails.stderr, timedOut };
      if (!fed) return resolve(result);
      // The feeder stops once its writes fail, so it settles soon after the program ended.
      void fed.then((error) => resolve({ ...result, fed: error }));
    });
  });
}

/**
 * Background priority for a program started in a session of its own. Its nice value alone is not
 * enough where Linux groups processes by session for the scheduler (autogroups,
 * /proc/sys/kernel/sched_autogroup_enabled, on by default on desktops and here): each session
 * shares the CPU as one, nice values only order processes within a session, so a nice-19 Blender
 * in the CLI's session got as much CPU as a render in the agent's. Its session's own nice value
 * (/proc/PID/autogroup) is lowered too; either is set at once, before the program starts its
 * threads (they inherit it).
 */
function lowerPriority(pid: number, niceness: number): void {
  try {
    setPriority(pid, niceness);
  } catch {
    // Not allowed here: it runs at normal priority, which is only slower for others.
  }
  try {
    writeFileSync(`/proc/${pid}/autogroup`, String(niceness));
  } catch {
    // No autogroups here (another system, or turned off): the nice value above is what counts.
  }
}

/** Whether `program` can be started (e.g. `ffmpeg -version`). */
export async function isProgramAvailable(program: string, versionArgs: readonly string[] = ['-version']): Promise<boolean> {
  try {
    const result = await runProcess(program, versionArgs, { timeoutMs: 15_000, keepBytes: 4096 });
    return result.code === 0;
  } catch (err) {
    if (err instanceof ProgramNotFoundError) return false;
    throw err;
  }
}
