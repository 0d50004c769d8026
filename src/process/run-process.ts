// Run an external program (Blender, ffmpeg, ffprobe) without blocking the event loop, keeping
// only the tail of its output so a chatty program cannot exhaust memory.
import { spawn } from 'node:child_process';

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Kill the process (SIGKILL) after this long. */
  timeoutMs?: number;
  /** Called with each complete line of stdout and stderr as it arrives. */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** How much of each stream to keep for the result (from the end). Default 1 MiB. */
  keepBytes?: number;
  signal?: AbortSignal;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
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
    const child = spawn(program, args, {
      cwd: options.cwd,
      env: options.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      signal: options.signal,
    });
    const tails = { stdout: '', stderr: '' };
    const partial = { stdout: '', stderr: '' };
    let timedOut = false;
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            child.kill('SIGKILL');
          }, options.timeoutMs);

    const collect = (stream: 'stdout' | 'stderr') => (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      tails[stream] = (tails[stream] + text).slice(-keep);
      if (!options.onLine) return;
      const lines = (partial[stream] + text).split(/\r?\n|\r/);
      partial[stream] = lines.pop() ?? '';
      for (const line of lines) options.onLine(line, stream);
    };
    child.stdout.on('data', collect('stdout'));
    child.stderr.on('data', collect('stderr'));

    child.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(err.code === 'ENOENT' ? new ProgramNotFoundError(program) : err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (options.onLine) {
        for (const stream of ['stdout', 'stderr'] as const) if (partial[stream]) options.onLine(partial[stream], stream);
      }
      resolve({ code, signal, stdout: tails.stdout, stderr: tails.stderr, timedOut });
    });
  });
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
