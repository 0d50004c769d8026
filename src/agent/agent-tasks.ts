// The tasks an agent holds: those running and those leased but not started yet (prefetched), and
// the cores and GPUs they take. Starting a held task is decided here; leasing and reporting are the
// work loop's (work-loop.ts).
import type { LeasedTask } from '../wire/agents.js';
import { detectGpus } from './gpus.js';
import { type RunnerDeps, TaskRun } from './task-runner.js';

/** One attempt of a task: a task that failed here may be leased again while its first attempt tidies up. */
export function runKey(t: { taskId: string; attempt: number }): string {
  return `${t.taskId}#${t.attempt}`;
}

export class AgentTasks {
  /** Running attempts, by runKey. */
  readonly running = new Map<string, TaskRun>();
  /** Leased (prefetched) tasks not started yet, in lease order. */
  readonly held: LeasedTask[] = [];
  /** GPUs this agent offers (`--gpus`, else nvidia-smi), counted once. */
  private gpuCount: number | null = null;

  constructor(
    readonly slots: number,
    private readonly gpusGiven: number | undefined,
    private readonly log: (line: string) => void,
  ) {}

  get gpus(): number {
    return (this.gpuCount ??= this.gpusGiven ?? detectGpus());
  }

  get usedCores(): number {
    let used = 0;
    for (const run of this.running.values()) used += run.cores;
    return used;
  }

  /** Tasks it holds a lease for, running or waiting, besides those whose report is on its way. */
  get holding(): number {
    let n = this.held.length;
    for (const run of this.running.values()) if (!run.delivering) n++;
    return n;
  }

  /** Adds leased tasks; an urgent one leased while others wait here starts first (a stable sort keeps lease order). */
  hold(tasks: readonly LeasedTask[]): void {
    this.held.push(...tasks);
    this.held.sort((a, b) => (b.priority ?? 50) - (a.priority ?? 50));
  }

  /** Removes a held task (given back or canceled); undefined when it is not held. */
  takeHeld(attempt: { taskId: string; attempt: number }): LeasedTask | undefined {
    const i = this.held.findIndex((t) => runKey(t) === runKey(attempt));
    return i < 0 ? undefined : this.held.splice(i, 1)[0];
  }

  /**
   * Starts the held tasks that fit the free cores, in lease order (a small one may pass a big one);
   * `onEnded` hears of each run's end, once it is no longer counted.
   */
  startHeld(deps: RunnerDeps, onEnded: (key: string) => void): void {
    for (let i = 0; i < this.held.length; ) {
      const task = this.held[i]!;
      const freeGpus = this.gpus > 0 ? this.freeGpus() : [];
      if (task.cores > this.slots - this.usedCores || (task.gpus ?? 0) > freeGpus.length) {
        i++;
        continue;
      }
      this.held.splice(i, 1);
      // Each task sees only the GPUs it leased (none when it asked for none).
      if (this.gpus > 0) task.gpuDevices = freeGpus.slice(0, task.gpus ?? 0);
      this.log(`task ${task.taskId} (job ${task.jobId} #${task.index}, attempt ${task.attempt}) started`);
      // Keyed by attempt: a task that failed here may be leased again (attempt 2) while attempt 1
      // still tidies up, and each must keep its own entry (and heartbeat).
      const key = runKey(task);
      const run = new TaskRun(deps, task);
      this.running.set(key, run);
      void run.done.finally(() => {
        this.running.delete(key);
        this.log(`task ${task.taskId} ended`);
        onEnded(key);
      });
    }
  }

  /** GPU indices free now: those no running task was given. */
  private freeGpus(): number[] {
    const used = new Set<number>();
    for (const run of this.running.values()) for (const d of run.gpuDevices) used.add(d);
    return Array.from({ length: this.gpus }, (_, i) => i).filter((i) => !used.has(i));
  }
}
