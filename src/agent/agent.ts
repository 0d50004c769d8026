// An agent: joins the farm, leases tasks that fit its free cores, runs them side by side, keeps
// their leases alive with heartbeats, and stops them when told. SIGTERM drains (finish running
// tasks, take no new ones); SIGINT stops now and gives running tasks back.
import { mkdir, rm } from 'node:fs/promises';
import { arch, availableParallelism, hostname, platform, totalmem } from 'node:os';
import { join } from 'node:path';
import type { HeartbeatAnswer, HeartbeatBody, JoinAnswer, LeaseAnswer, LeaseBody, LeasedTask, RegisterAgentBody } from '../wire/agents.js';
import { detectGpus } from './gpus.js';
import type { LimitEnforcement } from './isolation/resource-limits.js';
import { DROVER_VERSION } from '../version.js';
import { BlobCache } from './blob-cache.js';
import { ApiError, ApiClient, backoffMs, sleep } from '../client/api-client.js';
import { loadIdentity, saveIdentity } from './identity.js';
import { renderProgram } from './render-program.js';
import { scriptProgram, type ProgramFactory } from './task-program.js';
import { previewProgram } from './preview-program.js';
import { type Launcher, type RunnerDeps, TaskRun } from './task-runner.js';
import { type PoolOptions, SessionPool } from './warm/session-pool.js';
import { warmRenderProgram } from './warm/warm-render-program.js';
import { templateProgram } from './template/template-program.js';
import { TemplateSessions } from './template/template-sessions.js';

export interface AgentOptions {
  servers: string[];
  joinToken: string;
  name?: string;
  slots?: number;
  workDir: string;
  labels?: Record<string, string>;
  /** GPUs it offers (`--gpus N`); detected with nvidia-smi when not given. */
  gpus?: number;
  launcher?: Launcher;
  sandbox?: boolean;
  /** What the launcher holds host tasks to, reported at join (see isolation/resource-limits.ts). */
  limits?: LimitEnforcement;
  programs?: Partial<Record<LeasedTask['kind'], ProgramFactory>>;
  log?: (line: string) => void;
  /**
   * Tasks to hold besides those running, each started the moment cores free: hides the round trip
   * to the coordinator between short tasks (default 0). The coordinator fills an agent's hold (what
   * it runs and what waits) up to its slots, one waiting task and its share of the queue (queued /
   * online agents), so near a queue's end a held task does not wait behind a busy agent's current
   * one while another agent idles.
   */
  prefetch?: number;
  /** Warm Blender sessions for render jobs; false renders every task with its own Blender. */
  warm?: false | Partial<Pick<PoolOptions, 'idleSeconds' | 'maxFrames' | 'maxRssMb' | 'maxSessions' | 'spare'>>;
}

const LEASE_WAIT_SECONDS = 20;

/** The coordinator said no (a wrong join token, the name taken): said in one line, not a stack. */
export class AgentRefusedError extends Error {}

export class Agent {
  private readonly client: ApiClient;
  private readonly running = new Map<string, TaskRun>();
  /** Leased (prefetched) tasks not started yet, in lease order. */
  private readonly held: LeasedTask[] = [];
  /** Counts what may let the agent start or lease more (a task ended, cores freed, a stop). */
  private changes = 0;
  private readonly stopping = new AbortController();
  private draining = false;
  private heartbeatSeconds = 5;
  private wake: (() => void) | null = null;
  /** Attempts whose heartbeat already said they are uploading their results. */
  private readonly saidUploading = new Set<string>();
  private uploadingTimer: NodeJS.Timeout | null = null;
  private pool: SessionPool | null = null;
  private sessions: TemplateSessions | null = null;
  readonly slots: number;
  readonly prefetch: number;
  readonly name: string;
  private readonly log: (line: string) => void;

  constructor(private readonly opts: AgentOptions) {
    this.client = new ApiClient(opts.servers);
    this.slots = opts.slots ?? availableParallelism();
    this.prefetch = opts.prefetch ?? 0;
    this.name = opts.name ?? hostname();
    this.log = opts.log ?? ((line) => console.log(`[agent ${this.name}] ${line}`));
  }

  /** GPUs this agent offers (`--gpus`, else nvidia-smi), counted once. */
  private gpuCount: number | null = null;
  private get gpus(): number {
    return (this.gpuCount ??= this.opts.gpus ?? detectGpus());
  }

  /** GPU indices free now: those no running task was given. */
  private freeGpus(): number[] {
    const used = new Set<number>();
    for (const run of this.running.values()) for (const d of run.gpuDevices) used.add(d);
    return Array.from({ length: this.gpus }, (_, i) => i).filter((i) => !used.has(i));
  }

  private get usedCores(): number {
    let used = 0;
    for (const run of this.running.values()) used += run.cores;
    return used;
  }

  async run(): Promise<void> {
    await mkdir(this.opts.workDir, { recursive: true, mode: 0o700 });
    await this.register();
    const blobs = new BlobCache(join(this.opts.workDir, 'blobs'), this.client);
    const warm = (this.pool = this.warmPool(blobs));
    await warm?.init();
    const sessions = (this.sessions = new TemplateSessions({
      root: join(this.opts.workDir, 'sessions'),
      blobs,
      client: this.client,
      idleSeconds: Number(process.env.DROVER_SESSION_IDLE_SECONDS ?? 60),
      log: this.log,
    }));
    await rm(join(this.opts.workDir, 'sessions'), { recursive: true, force: true });
    const deps = {
      client: this.client,
      blobs,
      workDir: this.opts.workDir,
      logLimitBytes: Number(process.env.DROVER_LOG_LIMIT_BYTES ?? 16 * 1024 ** 2),
      outputFileLimitBytes: Number(process.env.DROVER_OUTPUT_LIMIT_BYTES ?? 1024 ** 3),
      launcher: this.opts.launcher ?? (async (spec) => ({ spec })),
      programs: { script: scriptProgram, render: warm ? warmRenderProgram(warm) : renderProgram, template: templateProgram(sessions), preview: previewProgram, ...this.opts.programs },
      keepTaskDirs: process.env.DROVER_KEEP_TASK_DIRS === '1',
      // A warm render task frees its cores once its frames are rendered, while it still uploads.
      onCoresFreed: () => {
        this.changed();
        this.sayUploadingSoon();
      },
      onUploading: () => this.sayUploadingSoon(),
      stopSignal: this.stopping.signal,
      log: this.log,
    };
    const heartbeats = this.heartbeatLoop();
    let failures = 0;
    // Prefetch asks once per change: refused (the queue is short), it waits for a task to end.
    let prefetchAskedAt = -1;
    while (!this.stopping.signal.aborted && !this.draining) {
      this.startHeld(deps);
      const free = this.slots - this.usedCores;
      const room = this.prefetch - this.held.length;
      // Work to start now only when no held task waits for cores; otherwise only more to hold.
      const now = free >= 1 && this.held.length === 0;
      if (!now && (room < 1 || prefetchAskedAt === this.changes)) {
        await this.waitForChange();
        continue;
      }
      if (!now) prefetchAskedAt = this.changes;
      try {
        const { tasks } = await this.client.json<LeaseAnswer, LeaseBody>(
          'POST',
          '/agent/lease',
          {
            freeCores: now ? free : 0,
            ...(room > 0 ? { prefetch: room, holding: this.running.size + this.held.length } : {}),
            // A long-poll only when idle: one that holds tasks asks again when the next one ends.
            waitSeconds: now ? LEASE_WAIT_SECONDS : 0,
          },
          { signal: this.stopping.signal },
        );
        failures = 0;
        this.held.push(...tasks);
        // An urgent task leased while others wait here starts first (a stable sort keeps lease order).
        this.held.sort((a, b) => (b.priority ?? 50) - (a.priority ?? 50));
        if (this.stopping.signal.aborted || this.draining) break;
      } catch (err) {
        if (this.stopping.signal.aborted) break;
        if (err instanceof ApiError && err.status === 401) {
          this.log('the coordinator no longer knows this agent; joining again');
          await this.register().catch(() => undefined);
        }
        await sleep(backoffMs(failures++, 500, 10_000), this.stopping.signal);
      }
    }
    // Leased but never started: give them straight back (the attempt does not count).
    await Promise.all(this.held.splice(0).map((t) => this.client.json('POST', `/agent/tasks/${t.taskId}/release`, { attempt: t.attempt, reason: 'the agent is stopping' }).catch(() => undefined)));
    await Promise.all([...this.running.values()].map((r) => r.done));
    await warm?.closeAll();
    await sessions.closeAll();
    this.stopping.abort();
    await heartbeats;
  }

  /** Starts the held tasks that fit the free cores, in lease order (a small one may pass a big one). */
  private startHeld(deps: RunnerDeps): void {
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
        this.saidUploading.delete(key);
        this.log(`task ${task.taskId} ended`);
        this.changed();
      });
    }
  }

  /**
   * Tells the coordinator about tasks uploading their results a second after one starts to, if it
   * still is then (a short upload is over before anyone would see it, and costs no request).
   */
  private sayUploadingSoon(): void {
    if (this.uploadingTimer) return;
    this.uploadingTimer = setTimeout(() => {
      this.uploadingTimer = null;
      const unsaid = [...this.running.entries()].some(([key, run]) => run.holdsLease && run.uploading && !this.saidUploading.has(key));
      if (unsaid && !this.stopping.signal.aborted) void this.heartbeatOnce();
    }, 1000);
    this.uploadingTimer.unref();
  }

  private changed(): void {
    this.changes++;
    this.wake?.();
  }

  /** The warm session pool; settings from the options, else DROVER_WARM_* variables (DROVER_WARM=0 turns it off). */
  private warmPool(blobs: BlobCache): SessionPool | null {
    const o = this.opts.warm;
    if (o === false || process.env.DROVER_WARM === '0') return null;
    const env = (name: string, fallback: number) => {
      const value = Number(process.env[name]);
      return Number.isFinite(value) && value > 0 ? value : fallback;
    };
    return new SessionPool({
      root: join(this.opts.workDir, 'sessions'),
      blobs,
      sandboxed: this.opts.sandbox ?? false,
      idleSeconds: o?.idleSeconds ?? env('DROVER_WARM_IDLE_SECONDS', 60),
      maxFrames: o?.maxFrames ?? env('DROVER_WARM_MAX_FRAMES', 1000),
      maxRssMb: o?.maxRssMb ?? env('DROVER_WARM_MAX_RSS_MB', Math.round(totalmem() / 1024 ** 2 / 2)),
      maxSessions: o?.maxSessions ?? env('DROVER_WARM_MAX_SESSIONS', this.slots),
      spare: o?.spare ?? process.env.DROVER_WARM_SPARE !== '0',
      log: this.log,
    });
  }

  /** Finish running tasks, take no new ones. */
  drain(): void {
    this.draining = true;
    this.log(`draining: ${this.running.size} task(s) to finish`);
    this.changed();
    void this.heartbeatOnce();
  }

  /** Stop now: kill running tasks and give them back to the coordinator. */
  stop(): void {
    this.draining = true;
    for (const run of this.running.values()) run.stop('shutdown');
    this.stopping.abort();
    this.changed();
  }

  private waitForChange(): Promise<void> {
    return new Promise((resolve) => {
      this.wake = () => {
        this.wake = null;
        resolve();
      };
    });
  }

  private async register(): Promise<void> {
    const previous = await loadIdentity(this.opts.workDir);
    this.client.token = this.opts.joinToken;
    let attempt = 0;
    const startedAt = Date.now();
    const nameWaitMs = Number(process.env.DROVER_AGENT_NAME_WAIT_SECONDS ?? 90) * 1000;
    let saidNameTaken = false;
    for (;;) {
      try {
        const answer = await this.client.json<JoinAnswer, RegisterAgentBody>('POST', '/agents/register', {
          name: this.name,
          cores: availableParallelism(),
          memoryBytes: totalmem(),
          labels: this.opts.labels ?? {},
          slots: this.slots,
          sandbox: this.opts.sandbox ?? false,
          version: DROVER_VERSION,
          attributes: { ...hostAttributes(), gpus: this.gpus },
          ...(this.opts.limits ? { limits: this.opts.limits } : {}),
          ...(previous ? { previousToken: previous.agentToken } : {}),
        });
        this.client.token = answer.agentToken;
        this.heartbeatSeconds = answer.heartbeatSeconds;
        await saveIdentity(this.opts.workDir, { agentId: answer.agentId, agentToken: answer.agentToken });
        this.log(`joined ${this.client.baseUrl} as ${answer.agentId} with ${this.slots} slot(s)`);
        return;
      } catch (err) {
        // Another agent online under this name: it may be one that just stopped (a fleet reusing
        // names) and goes silent within a lease, so wait a while; one that stays is a duplicate.
        if (err instanceof ApiError && err.status === 409 && Date.now() - startedAt < nameWaitMs) {
          if (!saidNameTaken) this.log(`${err.message}; waiting up to ${Math.round(nameWaitMs / 1000)} s for it to go away`);
          saidNameTaken = true;
          await sleep(backoffMs(attempt++, 1000, 5000), this.stopping.signal);
          continue;
        }
        if (err instanceof ApiError && err.status < 500) throw new AgentRefusedError(`the coordinator refused this agent: ${err.message}`);
        if (this.stopping.signal.aborted) throw err;
        if (attempt === 0) this.log(`waiting for the coordinator at ${this.client.baseUrl} (${(err as Error).message})`);
        await sleep(backoffMs(attempt++, 250, 5000), this.stopping.signal);
      }
    }
  }

  private async heartbeatLoop(): Promise<void> {
    while (!this.stopping.signal.aborted) {
      await sleep(this.heartbeatSeconds * 1000, this.stopping.signal);
      if (this.stopping.signal.aborted) break;
      await this.heartbeatOnce();
    }
  }

  private async heartbeatOnce(): Promise<void> {
    try {
      // Only attempts still holding a lease: one that has reported is the coordinator's no more.
      // Those whose work is over say they are uploading: the coordinator counts them apart.
      const leased = [...this.running.entries()].filter(([, r]) => r.holdsLease);
      const uploading = leased.filter(([, r]) => r.uploading).map(([key]) => key);
      const tasks = [
        ...leased.map(([, r]) => ({ taskId: r.task.taskId, attempt: r.task.attempt, ...(r.uploading ? { uploading: true } : {}) })),
        ...this.held.map((t) => ({ taskId: t.taskId, attempt: t.attempt })),
      ];
      // The jobs of idle warm sessions: the answer names those that ended, whose sessions then close.
      const jobs = [...new Set([...(this.pool?.idleJobs() ?? []), ...(this.sessions?.idleJobs() ?? [])])];
      // A heartbeat stuck on a dead connection (a host cut off, then the coordinator restarted)
      // would hold up every later one: give up after two intervals and send the next.
      const held = this.held.map((t) => ({ taskId: t.taskId, attempt: t.attempt }));
      const { cancel, endedJobs = [], giveBack = [] } = await this.client.json<HeartbeatAnswer, HeartbeatBody>(
        'POST',
        '/agent/heartbeat',
        { tasks, draining: this.draining, ...(jobs.length > 0 ? { jobs } : {}), ...(held.length > 0 ? { held } : {}) },
        { signal: AbortSignal.timeout(Math.max(2000, this.heartbeatSeconds * 2000)) },
      );
      for (const key of uploading) if (this.running.has(key)) this.saidUploading.add(key);
      if (endedJobs.length > 0) {
        this.pool?.jobsEnded(endedJobs);
        void this.sessions?.jobsEnded(endedJobs);
      }
      // A job of higher priority waits: held tasks go back to the queue so that it is served first.
      for (const attempt of giveBack) {
        const i = this.held.findIndex((t) => runKey(t) === runKey(attempt));
        if (i < 0) continue;
        this.held.splice(i, 1);
        this.log(`held task ${attempt.taskId} given back: a job of higher priority is waiting`);
        void this.client.json('POST', `/agent/tasks/${attempt.taskId}/release`, { attempt: attempt.attempt, reason: 'given back unstarted: a job of higher priority is waiting' }).catch(() => undefined);
      }
      for (const attempt of cancel) {
        const i = this.held.findIndex((t) => runKey(t) === runKey(attempt));
        if (i >= 0) {
          this.log(`held task ${attempt.taskId} (attempt ${attempt.attempt}) was stopped or reassigned: dropped`);
          this.held.splice(i, 1);
        }
        const run = this.running.get(runKey(attempt));
        if (run) {
          this.log(`task ${attempt.taskId} (attempt ${attempt.attempt}) was stopped or reassigned: killing it`);
          run.stop('canceled');
        }
      }
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) await this.register().catch(() => undefined);
      // Unreachable coordinator: the tasks keep running; the next heartbeat tries again.
    }
  }
}

/** What OpenJD host requirements name attr.worker.os.family and attr.worker.cpu.arch, in its words. */
function hostAttributes(): { os: string; arch: string; gpus: number } {
  const os = platform() === 'darwin' ? 'macos' : platform() === 'win32' ? 'windows' : platform();
  const cpu = arch() === 'x64' ? 'x86_64' : arch();
  return { os, arch: cpu, gpus: 0 };
}

function runKey(t: { taskId: string; attempt: number }): string {
  return `${t.taskId}#${t.attempt}`;
}
