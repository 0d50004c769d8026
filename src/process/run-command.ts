// A small, bounded child-process runner for probes and engine calls (the agent's isolation layer,
// the fleet's container provider). Every call has a timeout: a wedged engine must never hang the
// agent.
import { spawn } from 'node:child_process';
import { signalProcessGroup } from './process-group.js';

export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** Set when the program could not be started at all (e.g. ENOENT). */
  spawnError?: Error;
}

export interface RunCommandOptions {
  timeoutMs: number;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Called with each complete output line (stdout and stderr), e.g. to stream pull progress. */
  onLine?: (line: string) => void;
}

/** Cap kept output so a chatty command cannot grow the agent's memory without bound. */
const MAX_KEPT_OUTPUT = 1 << 20;

export function runCommand(file: string, args: string[], opts: RunCommandOptions): Promise<CommandResult> {
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let settled = false;
    const finish = (result: CommandResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };

    // Own process group, so a timeout kills the command and anything it started.
    const child = spawn(file, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });

    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid !== undefined) signalProcessGroup(child.pid, 'SIGKILL');
    }, opts.timeoutMs);

    const lineSplitter = (): ((chunk: string) => void) => {
      let partial = '';
      return (chunk) => {
        if (!opts.onLine) return;
        partial += chunk;
        const lines = partial.split(/\r?\n|\r/);
        partial = lines.pop() ?? '';
        for (const line of lines) if (line.trim() !== '') opts.onLine(line);
      };
    };
    const outLines = lineSplitter();
    const errLines = lineSplitter();
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      if (stdout.length < MAX_KEPT_OUTPUT) stdout += chunk;
      outLines(chunk);
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      if (stderr.length < MAX_KEPT_OUTPUT) stderr += chunk;
      errLines(chunk);
    });
    child.on('error', (err) => finish({ code: null, stdout, stderr, timedOut, spawnError: err }));
    child.on('close', (code) => finish({ code, stdout, stderr, timedOut }));
  });
}

/** Last non-empty line of a command's error output: engines put the useful message there. */
export function lastLine(text: string): string {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  return lines[lines.length - 1] ?? '';
}
