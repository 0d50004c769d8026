// Runs one OpenJD action (a command with arguments) as a process of the task's session: through
// the agent's launcher (bubblewrap or a container), its output streamed, stopped on cancel or timeout.
import { spawn } from 'node:child_process';
import type { ProcessSpec } from '../isolation/process-spec.js';
import { terminateProcessGroup } from '../../process/process-group.js';
import type { Launch } from '../task-runner.js';

export interface ActionIO {
  stdout(chunk: Buffer): void;
  stderr(chunk: Buffer): void;
  signal: AbortSignal;
}

export interface ActionOutcome {
  code: number | null;
  /** Why it did not succeed when not by its exit code: timed out, canceled, could not start. */
  error?: string;
}

const KILL_GRACE_MS = 5000;

export async function runAction(launch: (spec: ProcessSpec) => Promise<Launch>, spec: ProcessSpec, io: ActionIO, timeoutSeconds?: number): Promise<ActionOutcome> {
  if (io.signal.aborted) return { code: null, error: 'canceled' };
  const launched = await launch(spec);
  try {
    return await new Promise<ActionOutcome>((resolve) => {
      const [command, ...args] = launched.spec.argv;
      const child = spawn(command!, args, { cwd: launched.spec.cwd, env: launched.spec.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      let reason: string | undefined;
      const kill = (why: string) => {
        if (reason) return;
        reason = why;
        // The SIGKILL is not canceled when the action exits: it also ends what it left running.
        if (child.pid) terminateProcessGroup(child.pid, KILL_GRACE_MS);
      };
      const onAbort = () => kill('canceled');
      io.signal.addEventListener('abort', onAbort, { once: true });
      const timer = timeoutSeconds ? setTimeout(() => kill(`it ran longer than its timeout of ${timeoutSeconds} s and was killed`), timeoutSeconds * 1000) : null;
      child.stdout!.on('data', (c: Buffer) => io.stdout(c));
      child.stderr!.on('data', (c: Buffer) => io.stderr(c));
      let spawnError: string | undefined;
      child.on('error', (err) => (spawnError = err.message));
      child.on('close', (code, signal) => {
        if (timer) clearTimeout(timer);
        io.signal.removeEventListener('abort', onAbort);
        void (launched.limitExceeded?.({ code }) ?? Promise.resolve(null)).then((overLimit) => {
          const error = reason ?? overLimit ?? (spawnError ? `could not start: ${spawnError}` : signal ? `killed by ${signal}` : undefined);
          resolve({ code, ...(error ? { error } : {}) });
        });
      });
    });
  } finally {
    await launched.cleanup?.();
  }
}
