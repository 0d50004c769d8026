// Holds a host task to the memory and process count it asked for. Each task process joins a cgroup
// of its own that the agent makes (cgroup v2 where this agent's cgroup is delegated to it, cgroup v1
// memory+pids where those hierarchies are writable, as for root on a v1 or hybrid host); where
// neither works, prlimit sets RLIMIT_AS and RLIMIT_NPROC instead, which is weaker (address space,
// not memory; processes per user, not per task) and said so. What applies is reported at join.
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { findExecutable } from '../../process/find-executable.js';
import type { ProcessSpec } from './process-spec.js';

/** What an agent can enforce on its host tasks, as it reports at join and `worker list` shows. */
export interface LimitEnforcement {
  /** Whether a task using more memory than its limit is stopped. */
  memory: boolean;
  /** Whether the number of processes (and threads) a task may run is capped. */
  processes: boolean;
  /** How, in a few words: `cgroup v2`, `cgroup v1`, `rlimit (address space, processes per user)`, `none`. */
  how: string;
}

export interface TaskLimits {
  memoryBytes: number;
  processes: number;
}

export interface LimitedSpec {
  spec: ProcessSpec;
  /** After the process ended: why it was stopped for its limits (ran out of memory), or null. */
  limitExceeded(): Promise<string | null>;
  /** Kills what is left in the task's cgroup (a daemon that left the process group) and removes it. */
  release(): Promise<void>;
}

/** Processes and threads a task may have at once unless the agent is told otherwise: a fork bomb stops here. */
export const DEFAULT_TASK_PROCESSES = 4096;

const CGROUP_ROOT = '/sys/fs/cgroup';

/** Joins the cgroups named by the first arguments (how many: $1), then becomes the task. */
const JOIN_SCRIPT =
  'n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ > "$1" || { echo "drover: could not join the task\'s cgroup $1" >&2; exit 125; }; shift; n=$((n-1)); done; exec "$@"';

interface Backend {
  enforcement: LimitEnforcement;
  apply(key: string, spec: ProcessSpec, limits: TaskLimits): Promise<LimitedSpec>;
  /** Removes task cgroups a crashed run of this agent left behind. */
  sweep?(): Promise<void>;
  /** Removes the agent's own cgroups when it stops (its tasks have ended). */
  close?(): Promise<void>;
}

export class TaskLimiter {
  private constructor(private readonly backend: Backend) {}

  get enforcement(): LimitEnforcement {
    return this.backend.enforcement;
  }

  /** Finds the strongest way to limit tasks that works here. `group` names this agent's cgroup (one per work dir). */
  static async detect(group: string, log: (line: string) => void = () => {}): Promise<TaskLimiter> {
    const tried: string[] = [];
    for (const make of [cgroupV2, cgroupV1]) {
      const found = await make(group).catch((err: Error) => err.message);
      if (typeof found !== 'string') {
        await found.sweep?.().catch(() => undefined);
        return new TaskLimiter(found);
      }
      if (found) tried.push(found);
    }
    const prlimit = findExecutable('prlimit');
    const limiter = new TaskLimiter(prlimit ? rlimitBackend(prlimit) : noLimits());
    log(`task limits: ${limiter.enforcement.how}${tried.length ? ` (${tried.join('; ')})` : ''}`);
    return limiter;
  }

  /** Wraps `spec` (already confined or not) so that its process runs within `limits`. `key` is unique per process. */
  apply(key: string, spec: ProcessSpec, limits: TaskLimits): Promise<LimitedSpec> {
    return this.backend.apply(key, spec, limits);
  }

  /** When the agent stops: what it made for its tasks goes (never throws). */
  async close(): Promise<void> {
    await this.backend.close?.().catch(() => undefined);
  }
}

export function mib(bytes: number): string {
  return `${Math.round(bytes / 1024 / 1024)} MiB`;
}

function outOfMemory(limits: TaskLimits): string {
  return `the task ran out of memory: it used more than its limit of ${mib(limits.memoryBytes)} and was killed (ask for more with --memory MiB, or a bigger instance type)`;
}

function joinSpec(spec: ProcessSpec, procsFiles: string[]): ProcessSpec {
  return { ...spec, argv: ['/bin/sh', '-c', JOIN_SCRIPT, 'drover-limits', String(procsFiles.length), ...procsFiles, ...spec.argv] };
}

/** The cgroup path of this process in a hierarchy: `0::/x` (v2) or `N:memory:/x` (v1). */
async function ownCgroup(controller: string | null): Promise<string | null> {
  const lines = (await readFile('/proc/self/cgroup', 'utf8')).split('\n');
  for (const line of lines) {
    const [, controllers, path] = line.split(':');
    if (path === undefined) continue;
    if (controller === null ? controllers === '' : controllers!.split(',').includes(controller)) return path;
  }
  return null;
}

/** Kills every process still in a cgroup, then removes it (retrying while the kernel lets them go). */
async function emptyAndRemove(dir: string): Promise<void> {
  for (let i = 0; i < 20; i++) {
    const procs = await readFile(join(dir, 'cgroup.procs'), 'utf8').catch(() => null);
    if (procs === null) return; // gone already
    for (const pid of procs.split('\n').filter(Boolean)) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // already gone
      }
    }
    try {
      await rmdir(dir);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

async function sweepChildren(parent: string): Promise<void> {
  for (const entry of await readdir(parent, { withFileTypes: true }).catch(() => [])) {
    if (entry.isDirectory()) await emptyAndRemove(join(parent, entry.name));
  }
}

/** The `oom_kill N` count of a memory.events (v2) or memory.oom_control (v1) file. */
async function oomKills(file: string): Promise<number> {
  const text = await readFile(file, 'utf8').catch(() => '');
  const match = /^oom_kill (\d+)$/m.exec(text);
  return match ? Number(match[1]) : 0;
}

/**
 * cgroup v2: the agent's own cgroup must be delegated (writable, and not holding processes itself
 * except at the root), as systemd does for a unit with Delegate=yes.
 */
async function cgroupV2(group: string): Promise<Backend | string> {
  if (!existsSync(join(CGROUP_ROOT, 'cgroup.controllers'))) return '';
  const controllers = (await readFile(join(CGROUP_ROOT, 'cgroup.controllers'), 'utf8')).split(/\s+/);
  if (!controllers.includes('memory') || !controllers.includes('pids')) return 'cgroup v2 without the memory and pids controllers';
  const own = await ownCgroup(null);
  if (own === null) return 'cgroup v2: this process is in no cgroup';
  const base = join(CGROUP_ROOT, own);
  const parent = join(base, group);
  try {
    await writeFile(join(base, 'cgroup.subtree_control'), '+memory +pids');
    await mkdir(parent, { recursive: true });
    await writeFile(join(parent, 'cgroup.subtree_control'), '+memory +pids');
  } catch (err) {
    return `cgroup v2: the agent's cgroup ${own} is not delegated to it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); run it under systemd with Delegate=yes`;
  }
  return {
    enforcement: { memory: true, processes: true, how: 'cgroup v2' },
    sweep: () => sweepChildren(parent),
    close: async () => {
      await sweepChildren(parent);
      await rmdir(parent);
    },
    async apply(key, spec, limits) {
      const dir = join(parent, key);
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, 'memory.max'), String(limits.memoryBytes));
      // No swap: the limit is a real limit, not memory plus as much again in swap.
      await writeFile(join(dir, 'memory.swap.max'), '0').catch(() => undefined);
      await writeFile(join(dir, 'pids.max'), String(limits.processes));
      return {
        spec: joinSpec(spec, [join(dir, 'cgroup.procs')]),
        limitExceeded: async () => ((await oomKills(join(dir, 'memory.events'))) > 0 ? outOfMemory(limits) : null),
        release: () => emptyAndRemove(dir),
      };
    },
  };
}

/** cgroup v1: separate memory and pids hierarchies, writable where the agent is root on such a host. */
async function cgroupV1(group: string): Promise<Backend | string> {
  const memoryRoot = join(CGROUP_ROOT, 'memory');
  const pidsRoot = join(CGROUP_ROOT, 'pids');
  if (!existsSync(join(memoryRoot, 'memory.limit_in_bytes')) || !existsSync(join(pidsRoot, 'cgroup.procs'))) return '';
  const memoryParent = join(memoryRoot, (await ownCgroup('memory')) ?? '/', group);
  const pidsParent = join(pidsRoot, (await ownCgroup('pids')) ?? '/', group);
  try {
    await mkdir(memoryParent, { recursive: true });
    await mkdir(pidsParent, { recursive: true });
  } catch (err) {
    return `cgroup v1: cannot make the agent's cgroups (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`;
  }
  return {
    enforcement: { memory: true, processes: true, how: 'cgroup v1' },
    sweep: async () => {
      await sweepChildren(memoryParent);
      await sweepChildren(pidsParent);
    },
    close: async () => {
      for (const parent of [memoryParent, pidsParent]) {
        await sweepChildren(parent);
        await rmdir(parent).catch(() => undefined);
      }
    },
    async apply(key, spec, limits) {
      const memory = join(memoryParent, key);
      const pids = join(pidsParent, key);
      await mkdir(memory, { recursive: true });
      await mkdir(pids, { recursive: true });
      await writeFile(join(memory, 'memory.limit_in_bytes'), String(limits.memoryBytes));
      // Memory plus swap, where swap is accounted: no swapping past the limit.
      if (existsSync(join(memory, 'memory.memsw.limit_in_bytes'))) await writeFile(join(memory, 'memory.memsw.limit_in_bytes'), String(limits.memoryBytes));
      await writeFile(join(pids, 'pids.max'), String(limits.processes));
      return {
        spec: joinSpec(spec, [join(memory, 'cgroup.procs'), join(pids, 'cgroup.procs')]),
        limitExceeded: async () => ((await oomKills(join(memory, 'memory.oom_control'))) > 0 ? outOfMemory(limits) : null),
        release: async () => {
          await emptyAndRemove(memory);
          await emptyAndRemove(pids);
        },
      };
    },
  };
}

/**
 * The fallback: RLIMIT_AS caps address space (a program that reserves much more than it uses, as
 * JITs do, may fail to start under it) and RLIMIT_NPROC counts all processes of the task's user
 * (every task of the agent together), and neither applies to root without a sandbox that drops it.
 */
function rlimitBackend(prlimit: string): Backend {
  return {
    enforcement: { memory: true, processes: true, how: 'rlimit (address space, processes per user)' },
    async apply(_key, spec, limits) {
      return {
        spec: { ...spec, argv: [prlimit, `--as=${limits.memoryBytes}`, `--nproc=${limits.processes}`, '--', ...spec.argv] },
        // An allocation over RLIMIT_AS fails inside the program; it is not killed, so nothing here can tell.
        limitExceeded: async () => null,
        release: async () => undefined,
      };
    },
  };
}

function noLimits(): Backend {
  return {
    enforcement: { memory: false, processes: false, how: 'none' },
    async apply(_key, spec) {
      return { spec, limitExceeded: async () => null, release: async () => undefined };
    },
  };
}
