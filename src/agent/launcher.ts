// How an agent runs task processes: in a container when the job names an image, otherwise as host
// processes, confined with bubblewrap unless the agent was told not to (or cannot).
import { createHash } from 'node:crypto';
import { availableParallelism, totalmem } from 'node:os';
import { resolve } from 'node:path';
import type { LeasedTask } from '../wire/agents.js';
import { imageRefProblem } from '../core/images.js';
import { bwrapAvailable, bwrapNote, confineWithBwrap } from './isolation/bwrap.js';
import { ContainerEngine, type EngineName } from './isolation/container-engine.js';
import type { ProcessSpec } from './isolation/process-spec.js';
import { DEFAULT_TASK_PROCESSES, mib, TaskLimiter, type LimitEnforcement, type TaskLimits } from './isolation/resource-limits.js';
import type { ProgramFactory } from './task-program.js';
import type { Launcher } from './task-runner.js';

export interface LauncherOptions {
  sandbox: boolean;
  workDir: string;
  engine?: EngineName;
  /** Processes (and threads) each task may run at once (default DEFAULT_TASK_PROCESSES). */
  taskProcesses?: number;
  log?: (line: string) => void;
}

export interface AgentLaunch {
  launcher: Launcher;
  /** Whether host tasks are confined. */
  sandboxed: boolean;
  /** What this agent holds its host tasks to (memory, processes), as reported at join. */
  limits: LimitEnforcement;
  programs?: Partial<Record<LeasedTask['kind'], ProgramFactory>>;
  /** Removes every container this agent started that is still there. */
  shutdown(): Promise<void>;
}

/**
 * The label on every container this agent starts. It comes from the work directory, not the agent
 * id, so it is known before the agent joins and stays the same across restarts: a restarted agent
 * finds and removes what a crashed predecessor left, and never touches another agent's containers.
 */
export function agentContainerLabels(workDir: string): Record<string, string> {
  return { 'drover.agent': createHash('sha256').update(resolve(workDir)).digest('hex').slice(0, 16) };
}

export async function createLauncher(opts: LauncherOptions): Promise<AgentLaunch> {
  const log = opts.log ?? ((line: string) => console.log(`[agent] ${line}`));
  const sandboxed = opts.sandbox ? await bwrapAvailable() : false;
  if (!opts.sandbox) log('host tasks run unconfined (--no-sandbox)');
  else if (!sandboxed) log(`host tasks run UNCONFINED: ${bwrapNote() ?? 'bubblewrap does not work here'} (install bubblewrap to confine them, or pass --no-sandbox)`);
  else log(`host tasks are confined with bubblewrap${bwrapNote() ? ` (${bwrapNote()})` : ''}`);

  const labels = agentContainerLabels(opts.workDir);
  const limiter = await TaskLimiter.detect(`drover-${labels['drover.agent']}`, log);
  const processes = opts.taskProcesses ?? DEFAULT_TASK_PROCESSES;
  log(`host tasks are held to their memory and ${processes} processes by ${limiter.enforcement.how}`);
  let launches = 0;
  /** Each host process of a task in its own limits (a template task starts several, one after another). */
  const limited = async (spec: ProcessSpec, task: LeasedTask, taskLog: (line: string) => void) => {
    const limits: TaskLimits = { memoryBytes: taskMemoryBytes(task), processes };
    const held = await limiter.apply(`${task.taskId}-${task.attempt}-${++launches}`, spec, limits);
    if (limiter.enforcement.memory) taskLog(`limits: ${mib(limits.memoryBytes)} of memory, ${processes} processes (${limiter.enforcement.how})`);
    return { spec: held.spec, limitExceeded: held.limitExceeded, cleanup: held.release };
  };
  const engine = opts.engine ? await startEngine(opts.engine, labels, log) : startEngine(undefined, labels, log);
  const engineReady = Promise.resolve(engine);

  const launcher: Launcher = async (spec, task, taskLog) => {
    if (!task.image) {
      if (sandboxed) return limited(confineWithBwrap(spec, { taskDir: spec.cwd, network: task.network }), task, taskLog);
      // Said where the task's owner looks: the job asked for no network, and nothing here cuts it.
      if (!task.network) taskLog('this agent runs host tasks unconfined, so the task has the network although its job has none (confine tasks with bubblewrap to cut it)');
      return limited(spec, task, taskLog);
    }
    // The coordinator checks refs too; this guards the engine's command line against an older one.
    const problem = imageRefProblem(task.image);
    if (problem) throw new Error(problem);
    const found = await engineReady;
    if (!found) throw new Error(`the job runs in the container image ${task.image}, but this agent has no working container engine (docker or podman)`);
    await found.ensureImage(task.image, taskLog);
    const name = `drover-${task.taskId}-${task.attempt}`;
    const wrapped = found.wrap(spec, {
      image: task.image,
      taskDir: spec.cwd,
      cores: task.cores,
      memoryBytes: taskMemoryBytes(task),
      processes,
      network: task.network,
      name,
      labels: { ...labels, 'drover.task': task.taskId },
    });
    taskLog(`running in container ${name} (${found.name}, image ${task.image}, ${task.network ? 'with' : 'no'} network)`);
    // `<engine> run --rm` removes the container when it ends by itself; when the task is killed
    // (stopped, lease lost, agent shutdown) only the engine client dies, so remove it explicitly.
    const warn = (line: string): void => {
      taskLog(line);
      log(line);
    };
    const memoryBytes = taskMemoryBytes(task);
    return {
      spec: wrapped,
      cleanup: () => removeContainer(found, name, warn),
      // The engine removed the container (--rm), and with it the record of why it died: 137 is
      // what a container killed by the kernel's OOM killer exits with.
      limitExceeded: async (exit) =>
        found.limitsSupported && exit.code === 137 ? `the task was killed (exit 137), most likely for using more than its memory limit of ${mib(memoryBytes)} (ask for more with --memory MiB)` : null,
    };
  };

  return {
    launcher,
    sandboxed,
    limits: limiter.enforcement,
    async shutdown() {
      const found = await engineReady;
      await found?.removeAll(labels).catch((err: Error) => log(`could not remove this agent's containers: ${err.message}`));
      await limiter.close();
    },
  };
}

/**
 * Finds the engine and removes containers a previous run of this agent left behind, before any
 * task can start one. Without a preferred engine this runs in the background (the agent joins at
 * once; container tasks wait for it); a preferred engine that does not work stops the agent.
 */
async function startEngine(prefer: EngineName | undefined, labels: Record<string, string>, log: (line: string) => void): Promise<ContainerEngine | null> {
  let engine: ContainerEngine | null;
  try {
    engine = await ContainerEngine.detect(prefer, { log });
  } catch (err) {
    if (prefer) throw err;
    log(`no container engine: ${(err as Error).message}`);
    return null;
  }
  if (!engine) return null;
  await engine.removeAll(labels).catch((err: Error) => log(`could not remove containers left by an earlier run: ${err.message}`));
  return engine;
}

/**
 * Removes a task's container, trying again once. Never throws: the task's outcome stands either
 * way, and a container that still will not go is removed by label when the agent stops or starts.
 */
async function removeContainer(engine: ContainerEngine, name: string, log: (line: string) => void): Promise<void> {
  try {
    await engine.remove(name);
  } catch {
    await new Promise((r) => setTimeout(r, 1000));
    await engine.remove(name).catch((err: Error) => log(`${err.message}; it is removed when the agent stops or starts again`));
  }
}

/** A task's memory limit: what its job asked for (`--memory`), else its cores' share of the machine's. */
export function taskMemoryBytes(task: Pick<LeasedTask, 'cores' | 'memoryMiB'>): number {
  return task.memoryMiB ? task.memoryMiB * 1024 * 1024 : memoryShare(task.cores);
}

/** The machine's memory in proportion to the cores a task has. */
function memoryShare(cores: number): number {
  const cpus = availableParallelism();
  return Math.floor((totalmem() * Math.min(Math.max(cores, 1), cpus)) / cpus);
}
