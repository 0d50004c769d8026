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
import { ApiError, ApiClient, backoffMs, sleep, type RequestOptions } from '../client/api-client.js';
import { loadIdentity, saveIdentity } from './identity.js';
import { renderProgram } from './render-program.js';
import { scriptProgram, type ProgramFactory } from './task-program.js';
import { previewProgram } from './preview-program.js';
import { type Launcher, type RunnerDeps, TaskRun } from './task-runner.js';
import { type PoolOptions, SessionPool } from './warm/session-pool.js';
import { warmRenderProgram } from './warm/warm-render-program.js';
import { templateProgram } from './template/template-program.js';
import { TemplateSessions } from './template/template-sessions.js';
import { nextLeaseRequest, workRequest, type Completion, type CompletionResult, type LeaseRequest } from './protocol.js';

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

/** A finished attempt's report waiting to be sent, and the task run waiting for the coordinator's word. */
interface QueuedReport {
  completion: Completion;
  delivery: RequestOptions;
  settle(result: CompletionResult): void;
  fail(err: unknown): void;
}

/**
 * What the work loop is doing, which decides who sends a report that just arrived: the loop itself
 * with its next lease (`idle`: woken for it; `asking`: with its next request), or a request of its
 * own (`long-poll`: the loop may wait for work for long; `stopped`: there is no loop any more).
 */
type LoopPhase = 'idle' | 'asking' | 'long-poll' | 'stopped';

/** The coordinator said no (a wrong join token, the name taken): said in one line, not a stack. */
export class AgentRefusedError extends Error {}

export class Agent {
  private readonly client: ApiClient;
  private readonly running = new Map<string, TaskRun>();
  /** Leased (prefetched) tasks not started yet, in lease order. */
  private readonly held: LeasedTask[] = [];
  /** Reports of finished attempts not sent yet: they go together, with the next lease. */
  private readonly outbox: QueuedReport[] = [];
  private phase: LoopPhase = 'asking';
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
      deliver: (completion: Completion, delivery: RequestOptions) => this.deliver(completion, delivery),
      stopSignal: this.stopping.signal,
      log: this.log,
    };
    const heartbeats = this.heartbeatLoop();
    let failures = 0;
    // Prefetch asks once per change: refused (the queue is short), it waits for a task to end.
    let prefetchAskedAt = -1;
    while (!this.stopping.signal.aborted && !this.draining) {
      this.startHeld(deps);
      const wish = nextLeaseRequest({
        slots: this.slots,
        usedCores: this.usedCores,
        held: this.held.length,
        holding: this.holding,
        prefetch: this.prefetch,
        prefetchAsked: prefetchAskedAt === this.changes,
      });
      const reports = this.outbox.splice(0);
      if (reports.length === 0 && !wish) {
        this.phase = 'idle';
        await this.waitForChange();
        this.phase = 'asking';
        continue;
      }
      if (wish && wish.freeCores === 0) prefetchAskedAt = this.changes;
      try {
        let tasks: LeasedTask[];
        if (reports.length > 0) tasks = await this.send(reports, wish);
        else {
          // A long-poll only when idle: one that holds tasks asks again when the next one ends.
          const request = workRequest([], wish)!;
          const longPoll = Boolean(request.body.waitSeconds);
          if (longPoll) this.phase = 'long-poll';
          // Only a long-poll is cut short by a stop: a quick answer is awaited, so the tasks it
          // brings are given back below rather than stranded until their leases run out.
          tasks = (await this.client.json<LeaseAnswer>('POST', request.path, request.body, longPoll ? { signal: this.stopping.signal } : {})).tasks;
          this.phase = 'asking';
        }
        failures = 0;
        this.held.push(...tasks);
        // An urgent task leased while others wait here starts first (a stable sort keeps lease order).
        this.held.sort((a, b) => (b.priority ?? 50) - (a.priority ?? 50));
        if (this.stopping.signal.aborted || this.draining) break;
      } catch (err) {
        this.phase = 'asking';
        if (this.stopping.signal.aborted) break;
        if (err instanceof ApiError && err.status === 401) {
          this.log('the coordinator no longer knows this agent; joining again');
          await this.register().catch(() => undefined);
        }
        await sleep(backoffMs(failures++, 500, 10_000), this.stopping.signal);
      }
    }
    // Reports from here on (draining: the tasks still running) go on their own.
    this.phase = 'stopped';
    void this.flush();
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

  /** Tasks it holds a lease for, running or waiting, besides those whose report is on its way. */
  private get holding(): number {
    let n = this.held.length;
    for (const run of this.running.values()) if (!run.delivering) n++;
    return n;
  }

  /** A finished attempt's report, sent with the others and the next lease (see LoopPhase). */
  private deliver(completion: Completion, delivery: RequestOptions): Promise<void> {
    return new Promise<CompletionResult>((settle, fail) => {
      this.outbox.push({ completion, delivery, settle, fail });
      if (this.phase === 'idle') this.changed();
      else if (this.phase === 'long-poll' || this.phase === 'stopped') void this.flush();
    }).then((result) => {
      if (!result.accepted) throw new ApiError(result.status, result.error.code, result.error.message);
    });
  }

  /** Sends the reports waiting, on their own. */
  private async flush(): Promise<void> {
    const reports = this.outbox.splice(0);
    if (reports.length > 0) await this.send(reports, null).catch(() => undefined);
  }

  /**
   * Reports finished attempts, with `wish` the lease in the same request, and returns the tasks
   * leased. A request with a lease is sent once: were its answer lost, retrying would strand the
   * tasks it leased until their leases ran out; the reports are then retried on their own, for as
   * long as it takes (each run's `delivery` says how long and hears of each retry).
   */
  private async send(reports: QueuedReport[], wish: LeaseRequest | null): Promise<LeasedTask[]> {
    const request = workRequest(
      reports.map((r) => r.completion),
      wish,
    )!;
    // With a lease: not cut short by a stop (see run()), the tasks it brings are given back.
    const options: RequestOptions = wish
      ? {}
      : {
          ...reports[0]!.delivery,
          onRetry: (err, attempt) => {
            for (const r of reports) r.delivery.onRetry?.(err, attempt);
          },
        };
    let answer: { results: CompletionResult[]; tasks?: LeasedTask[] };
    try {
      answer = await this.client.json('POST', request.path, request.body, options);
    } catch (err) {
      const retriable = !(err instanceof ApiError) || (err.status >= 500 && err.status !== 507);
      if (wish && retriable) return this.send(reports, null);
      for (const r of reports) r.fail(err);
      if (wish) throw err;
      return [];
    }
    reports.forEach((r, i) => r.settle(answer.results[i]!));
    return answer.tasks ?? [];
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
