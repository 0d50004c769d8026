// What runs for a leased task: the command line, and hooks for kinds that watch their output
// (render jobs upload each frame as soon as Blender saves it).
import { extname } from 'node:path';
import type { LeasedTask } from '../coordinator/services/leasing.js';
import type { ApiClient } from '../client/api-client.js';

export interface TaskProgram {
  /** The command, with paths relative to the task directory. */
  argv: string[];
  /** Extra environment for the task. */
  env?: Record<string, string>;
  onStdout?(chunk: Buffer): void;
  onStderr?(chunk: Buffer): void;
  /** Runs after the process ended and before the task completes (e.g. finish frame uploads). */
  afterExit?(): Promise<void>;
  /** Result files already sent while the task ran, by path. */
  alreadySent?(): Set<string>;
}

export interface ProgramContext {
  task: LeasedTask;
  taskDir: string;
  /** A folder beside the task directory, out of the task's reach, for the agent's own files. */
  scratchDir: string;
  client: ApiClient;
  /** Writes a line into the task's log, marked as Drover's. */
  log(line: string): void;
  /** Stops the task (e.g. when the coordinator says its lease is gone). */
  stop(reason: 'lease-lost'): void;
}

export type ProgramFactory = (ctx: ProgramContext) => Promise<TaskProgram>;

/** The script job: the script runs with its input file's path as the first argument. */
export function scriptCommand(script: string, input: string): string[] {
  const ext = extname(script).toLowerCase();
  if (ext === '.py') return ['python3', script, input];
  if (ext === '.sh') return ['bash', script, input];
  return [`./${script}`, input];
}

export const scriptProgram: ProgramFactory = async ({ task }) => {
  if (!task.script) throw new Error('this script task names no script');
  return { argv: scriptCommand(task.script, task.input) };
};
