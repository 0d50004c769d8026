// What runs for a leased task: the command line, and hooks for kinds that watch their output
// (render jobs upload each frame as soon as Blender saves it).
import { extname } from 'node:path';
import type { LeasedTask } from '../wire/agents.js';
import type { ApiClient } from '../client/api-client.js';
import type { BlobCache } from './blob-cache.js';
import type { ProcessSpec } from './isolation/process-spec.js';
import type { Launch } from './task-runner.js';

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
  /**
   * Runs the task inside the agent instead of spawning `argv` (a warm render session feeds frames
   * to a Blender that outlives the task). The runner awaits it as it would the process; `signal`
   * aborts when the task is stopped, and must end the work in progress.
   */
  execute?(io: ExecuteIO): Promise<ExecuteOutcome>;
  /** The program gets the task's files itself (from the blob cache): the runner does not lay them out. */
  ownsFiles?: boolean;
}

export interface ExecuteIO {
  /** Output that belongs in the task's stdout/stderr (files and log). */
  stdout(chunk: Buffer): void;
  stderr(chunk: Buffer): void;
  signal: AbortSignal;
  /**
   * The task will not need its cores much longer (its last frame is under way): the agent may
   * lease the next task now, so that it is ready the moment this one ends. Also implied by the end.
   */
  releaseCores(): void;
}

/** How an executed task ended, as a process would: exit code, or an error that ended it. */
export interface ExecuteOutcome {
  code: number | null;
  error?: string;
  /** A success that left something out (a preview that could not be made): the task's warning. */
  warning?: string;
}

export interface ProgramContext {
  task: LeasedTask;
  taskDir: string;
  /** A folder beside the task directory, out of the task's reach, for the agent's own files. */
  scratchDir: string;
  client: ApiClient;
  /** The agent's file cache, for programs that own their files (ownsFiles). */
  blobs: BlobCache;
  /** Writes a line into the task's log, marked as Drover's. */
  log(line: string): void;
  /** Stops the task (e.g. when the coordinator says its lease is gone). */
  stop(reason: 'lease-lost'): void;
  /** Wraps a process spec as the agent runs the task's processes (bubblewrap, or its container). */
  launch(spec: ProcessSpec, log?: (line: string) => void): Promise<Launch>;
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
