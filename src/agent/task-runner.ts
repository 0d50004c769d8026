// Runs one leased task from start to end: lays out its directory, starts its process (confined or
// in a container when asked), streams its logs, enforces its timeout, and reports its results.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { relativePathProblem } from '../core/inputs.js';
import { RESULTS_REQUIRED_ERROR, missingRequiredResults } from '../core/task-results.js';
import type { CompleteBody, LeasedTask } from '../wire/agents.js';
import type { ProcessSpec } from './isolation/process-spec.js';
import { terminateProcessGroup } from '../process/process-group.js';
import type { BlobCache } from './blob-cache.js';
import { CappedFile } from './capped-file.js';
import { ApiError, type ApiClient, type RequestOptions } from '../client/api-client.js';
import { LogShipper } from './log-shipper.js';
import type { Completion } from './protocol.js';
import { collectFiles, readFileForUpload, sha256File, SMALL_FILE_BYTES, uploadFiles } from './result-files.js';
import type { ExecuteOutcome, ProgramFactory, TaskProgram } from './task-program.js';

export type StopReason = 'canceled' | 'lease-lost' | 'shutdown' | 'timeout';

export interface Launch {
  spec: ProcessSpec;
  /** Cleans up after the process (e.g. removes its container). */
  cleanup?(): Promise<void>;
  /** After the process ended, before cleanup: why its limits stopped it (it ran out of memory), or null. */
  limitExceeded?(exit: { code: number | null }): Promise<string | null>;
}

/** Turns a plain process spec into what actually runs (bubblewrap, a container, or as is). */
export type Launcher = (spec: ProcessSpec, task: LeasedTask, log: (line: string) => void) => Promise<Launch>;

export interface RunnerDeps {
  client: ApiClient;
  blobs: BlobCache;
  workDir: string;
  logLimitBytes: number;
  outputFileLimitBytes: number;
  launcher: Launcher;
  programs: Record<LeasedTask['kind'], ProgramFactory>;
  keepTaskDirs: boolean;
  /** Called when a task no longer needs its cores (it is only reporting), so the agent can lease more. */
  onCoresFreed?(): void;
  /** The task's work ended and its results are being sent (the coordinator hears it at the next heartbeat). */
  onUploading?(): void;
  /**
   * Hands a finished attempt's report to the agent, which sends it with the others that ended and
   * its next lease in one request (protocol.ts); settles when the coordinator has judged it, and
   * throws its refusal as an ApiError (409 lease_lost, 400 bad files). `delivery` says how long to
   * keep trying and is told of each retry.
   */
  deliver(completion: Completion, delivery: RequestOptions): Promise<void>;
  /** Aborts when the agent stops: results still waiting for an unreachable coordinator are then given up. */
  stopSignal?: AbortSignal;
  /** The agent's own log (not the task's). */
  log?(line: string): void;
}

const OUTPUT_DIR = 'run-result';
const KILL_GRACE_MS = 5000;

export class TaskRun {
  private child: ChildProcess | null = null;
  private stopReason: StopReason | null = null;
  private launch: Launch | null = null;
  /** Aborts a program that runs inside the agent (TaskProgram.execute) when the task is stopped. */
  private readonly abort = new AbortController();
  private computing = true;
  /** Set once the task's work has ended and its results are being collected and sent. */
  private reporting = false;
  private reported = false;
  private inDelivery = false;
  readonly done: Promise<void>;

  constructor(
    private readonly deps: RunnerDeps,
    readonly task: LeasedTask,
  ) {
    this.done = this.run();
  }

  /** The cores the task occupies: none once an in-agent program has finished and only reporting remains. */
  get cores(): number {
    return this.computing ? this.task.cores : 0;
  }

  /** The GPUs the task was given, until it ends. */
  get gpuDevices(): readonly number[] {
    return this.task.gpuDevices ?? [];
  }

  /**
   * Whether the task's work is over and only sending its results remains (its cores may already be
   * another task's): heartbeats say so, and the coordinator counts it apart from the running.
   */
  get uploading(): boolean {
    return this.reporting || !this.computing;
  }

  /** Whether its report is with the agent to be sent (it no longer counts among the tasks the agent holds). */
  get delivering(): boolean {
    return this.inDelivery;
  }

  /** Whether this attempt still holds its lease (and needs heartbeats): until it has reported or given it up. */
  get holdsLease(): boolean {
    return !this.reported;
  }

  /** Stops the task's process group: SIGTERM, then SIGKILL if it lingers. */
  stop(reason: StopReason): void {
    if (this.stopReason) return;
    this.stopReason = reason;
    this.abort.abort(reason);
    const child = this.child;
    if (!child || child.exitCode !== null || child.pid === undefined) return;
    child.once('exit', terminateProcessGroup(child.pid, KILL_GRACE_MS));
  }

  private async run(): Promise<void> {
    const { task } = this;
    // The task sees only `dir`; its captured output sits beside it, out of its reach.
    const base = join(this.deps.workDir, 'tasks', `${task.taskId}-${task.attempt}`);
    const dir = join(base, 'task');
    const shipper = new LogShipper(this.deps.client, task.taskId, task.attempt, this.deps.logLimitBytes, () => this.stop('lease-lost'));
    try {
      await rm(base, { recursive: true, force: true });
      await mkdir(join(dir, OUTPUT_DIR), { recursive: true });
      await chmod(base, 0o700);
      const program = await this.deps.programs[task.kind]({
        task,
        taskDir: dir,
        scratchDir: join(base, 'scratch'),
        client: this.deps.client,
        blobs: this.deps.blobs,
        log: (l) => shipper.system(l),
        stop: (reason) => this.stop(reason),
        launch: (spec, log) => this.deps.launcher(spec, task, log ?? ((l) => shipper.system(l))),
      });
      for (const f of program.ownsFiles ? [] : task.files) {
        // Names may be project paths (project/textures/a.png); never let one lead out of the task.
        const problem = relativePathProblem(f.name);
        if (problem) throw new Error(`refusing a task file: ${problem}`);
        await mkdir(dirname(join(dir, f.name)), { recursive: true });
        await this.deps.blobs.copyTo(f.sha256, join(dir, f.name));
      }
      const stdout = new CappedFile(join(base, 'stdout'), this.deps.outputFileLimitBytes);
      const stderr = new CappedFile(join(base, 'stderr'), this.deps.outputFileLimitBytes);
      let outcome: { code: number | null; signal: NodeJS.Signals | null; spawnError?: string; error?: string; warning?: string };
      if (program.execute) {
        outcome = await this.executeAndWait(program, shipper, stdout, stderr);
        // What is left is reporting: let the agent start the next task meanwhile.
        this.releaseCores();
      } else {
        const spec: ProcessSpec = { argv: program.argv, cwd: dir, env: { ...taskEnvironment(task, dir), ...program.env } };
        this.launch = await this.deps.launcher(spec, task, (l) => shipper.system(l));
        outcome = await this.spawnAndWait(this.launch.spec, shipper, stdout, stderr, program);
      }
      await Promise.all([stdout.close(), stderr.close()]);
      const overLimit = (await this.launch?.limitExceeded?.({ code: outcome.code })) ?? null;
      await program.afterExit?.();
      await this.launch?.cleanup?.();
      if (this.stopReason === 'canceled' || this.stopReason === 'lease-lost') {
        await shipper.close();
        return;
      }
      if (this.stopReason === 'shutdown') {
        await shipper.close();
        await this.deps.client.json('POST', `/agent/tasks/${task.taskId}/release`, { attempt: task.attempt, reason: 'the agent shut down' }, { retryForMs: 5000 }).catch(() => undefined);
        return;
      }
      const error =
        this.stopReason === 'timeout'
          ? `the task ran longer than its timeout of ${task.timeoutSeconds} s and was killed`
          : overLimit
            ? overLimit
            : outcome.signal
              ? `the task was killed by ${outcome.signal}`
              : outcome.spawnError
                ? `the task could not start: ${outcome.spawnError}`
                : outcome.error;
      if (error) shipper.system(error);
      this.reporting = true;
      this.deps.onUploading?.();
      await this.report(base, outcome.code, error, program.alreadySent?.() ?? new Set(), shipper, error ? undefined : outcome.warning);
      this.reported = true;
    } catch (err) {
      if (err instanceof ApiError && err.code === 'lease_lost') return;
      // The agent is stopping while the coordinator cannot be reached: the attempt did not fail, so
      // it is not reported as failed; its lease runs out and the task runs again elsewhere.
      if (this.deps.stopSignal?.aborted && !(err instanceof ApiError)) {
        this.deps.log?.(`task ${task.taskId} (attempt ${task.attempt}): the agent stopped before the coordinator could be reached; its results are given up`);
        return;
      }
      const message = (err as Error).message;
      shipper.system(`the agent could not run this task: ${message}`);
      await this.launch?.cleanup?.().catch(() => undefined);
      await this.reportFailure(base, message, shipper).catch(() => undefined);
    } finally {
      this.reported = true;
      if (!this.deps.keepTaskDirs) await rm(base, { recursive: true, force: true }).catch(() => undefined);
    }
  }

  private releaseCores(): void {
    if (!this.computing) return;
    this.computing = false;
    this.deps.onCoresFreed?.();
  }

  /** Runs an in-agent program (TaskProgram.execute) with the task's output, stop and timeout. */
  private async executeAndWait(program: TaskProgram, shipper: LogShipper, stdout: CappedFile, stderr: CappedFile) {
    const sink = (name: 'stdout' | 'stderr', file: CappedFile, hook?: (c: Buffer) => void) => (chunk: Buffer) => {
      file.write(chunk);
      shipper.write(name, chunk);
      hook?.(chunk);
    };
    const timeout = this.task.timeoutSeconds ? setTimeout(() => this.stop('timeout'), this.task.timeoutSeconds * 1000) : null;
    let result: ExecuteOutcome;
    try {
      result = await program.execute!({
        stdout: sink('stdout', stdout, program.onStdout?.bind(program)),
        stderr: sink('stderr', stderr, program.onStderr?.bind(program)),
        signal: this.abort.signal,
        releaseCores: () => this.releaseCores(),
      });
    } catch (err) {
      result = { code: null, error: (err as Error).message };
    } finally {
      if (timeout) clearTimeout(timeout);
    }
    return { code: result.code, signal: null, ...(result.error ? { error: result.error } : {}), ...(result.warning ? { warning: result.warning } : {}) };
  }

  private spawnAndWait(spec: ProcessSpec, shipper: LogShipper, stdout: CappedFile, stderr: CappedFile, program: { onStdout?(c: Buffer): void; onStderr?(c: Buffer): void }) {
    return new Promise<{ code: number | null; signal: NodeJS.Signals | null; spawnError?: string }>((resolve) => {
      const [command, ...args] = spec.argv;
      const child = spawn(command!, args, { cwd: spec.cwd, env: spec.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      this.child = child;
      if (this.stopReason) this.stop(this.stopReason);
      let timeout: NodeJS.Timeout | null = null;
      if (this.task.timeoutSeconds) timeout = setTimeout(() => this.stop('timeout'), this.task.timeoutSeconds * 1000);
      const pump = (stream: NodeJS.ReadableStream, name: 'stdout' | 'stderr', file: CappedFile, hook?: (c: Buffer) => void) => {
        stream.on('data', (chunk: Buffer) => {
          file.write(chunk);
          shipper.write(name, chunk);
          hook?.(chunk);
          // Backpressure: a task that prints faster than the coordinator takes waits for it.
          if (shipper.overHighWater) {
            stream.pause();
            void shipper.drained().then(() => stream.resume());
          }
        });
      };
      pump(child.stdout!, 'stdout', stdout, program.onStdout?.bind(program));
      pump(child.stderr!, 'stderr', stderr, program.onStderr?.bind(program));
      let spawnError: string | undefined;
      child.on('error', (err) => {
        spawnError = err.message;
      });
      child.on('close', (code, signal) => {
        if (timeout) clearTimeout(timeout);
        resolve({ code, signal, ...(spawnError ? { spawnError } : {}) });
      });
    });
  }

  private async report(base: string, exitCode: number | null, error: string | undefined, alreadySent: Set<string>, shipper: LogShipper, warning?: string): Promise<void> {
    const files = await collectFiles(join(base, 'task', OUTPUT_DIR), (p, why) => shipper.system(`result ${p} was not kept: ${why}`), alreadySent);
    const stdoutBytes = (await stat(join(base, 'stdout'))).size;
    if (!error && missingRequiredResults({ exitCode, resultFiles: files.length + alreadySent.size, stdoutBytes }, requiresResults(this.task))) {
      error = RESULTS_REQUIRED_ERROR;
      shipper.system(error);
    }
    await shipper.close();
    const stdoutPath = join(base, 'stdout');
    const stderrPath = join(base, 'stderr');
    const std = await Promise.all(
      [stdoutPath, stderrPath].map(async (absPath) => {
        const { size } = await stat(absPath);
        // Small output (a render task's is a few kB) is read once and sent with the report's batch.
        return size <= SMALL_FILE_BYTES ? readFileForUpload(absPath) : { absPath, sha256: await sha256File(absPath), size };
      }),
    );
    const delivery = this.deliveryOptions(base);
    await uploadFiles(this.deps.client, [...files, ...std], delivery);
    const completion: Completion = {
      taskId: this.task.taskId,
      attempt: this.task.attempt,
      exitCode,
      ...(error ? { error } : {}),
      ...(warning ? { warning } : {}),
      files: files.map((f) => ({ path: f.path, sha256: f.sha256, size: f.size })),
      stdout: { sha256: std[0]!.sha256, size: std[0]!.size },
      stderr: { sha256: std[1]!.sha256, size: std[1]!.size },
    };
    // Only the report is left: the cores are free for the lease sent with it.
    this.releaseCores();
    this.inDelivery = true;
    try {
      await this.deps.deliver(completion, delivery);
    } finally {
      this.inDelivery = false;
    }
    delivery.delivered();
  }

  /**
   * How a finished attempt's results reach the coordinator: retried for as long as it takes (an
   * outage of any length; the files, logs and exit status wait on disk in `base`, bounded only by
   * the disk), never turned into a failure because the coordinator could not be reached. Says so
   * once in the agent's log, and again when they are delivered.
   */
  private deliveryOptions(base: string): RequestOptions & { delivered(): void } {
    const { task } = this;
    let waitingSince = 0;
    return {
      retryForMs: Infinity,
      maxBackoffMs: 5000,
      ...(this.deps.stopSignal ? { signal: this.deps.stopSignal } : {}),
      onRetry: (err) => {
        if (waitingSince) return;
        waitingSince = Date.now();
        this.deps.log?.(`task ${task.taskId} (attempt ${task.attempt}) finished but the coordinator cannot be reached (${err.message}): its results are kept on disk in ${base} and delivered when it is back`);
      },
      delivered: () => {
        if (waitingSince) this.deps.log?.(`task ${task.taskId} (attempt ${task.attempt}): results delivered after ${Math.round((Date.now() - waitingSince) / 1000)} s of waiting for the coordinator`);
      },
    };
  }

  private async reportFailure(base: string, message: string, shipper: LogShipper): Promise<void> {
    // A failure report carries no result files: they may be what could not be stored (a full disk
    // on the coordinator), and a failed attempt keeps none anyway.
    await rm(join(base, 'task', OUTPUT_DIR), { recursive: true, force: true });
    await mkdir(join(base, 'task', OUTPUT_DIR), { recursive: true });
    await writeFile(join(base, 'stdout'), '');
    await writeFile(join(base, 'stderr'), `${message}\n`);
    await this.report(base, null, message, new Set(), shipper);
  }
}

/** Whether the task's job fails tasks that write no result file (script jobs' `requireResults`). */
function requiresResults(task: LeasedTask): boolean {
  return task.kind === 'script' && (task.jobSpec as { requireResults?: boolean } | null)?.requireResults === true;
}

/** The task's environment: what the task contract promises, and nothing of the agent's own. */
export function taskEnvironment(task: LeasedTask, dir: string): Record<string, string> {
  return {
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: dir,
    LANG: 'C.UTF-8',
    TMPDIR: dir,
    DROVER_JOB_ID: task.jobId,
    DROVER_TASK_ID: task.taskId,
    DROVER_TASK_INDEX: String(task.index),
    DROVER_ATTEMPT: String(task.attempt),
    DROVER_OUTPUT_DIR: OUTPUT_DIR,
    DROVER_CORES: String(task.cores),
    // On an agent with GPUs: those the task leased, and none for a task that asked for none.
    ...(task.gpuDevices ? { CUDA_VISIBLE_DEVICES: task.gpuDevices.join(',') } : {}),
  };
}
