// The agent's heartbeat: every few seconds it renews the leases of the tasks it holds, says which
// are only uploading their results, and hears back which to kill (stopped, reassigned), which held
// ones to give back (a job of higher priority waits) and which jobs ended (their warm sessions close).
import type { HeartbeatAnswer, HeartbeatBody } from '../wire/agents.js';
import { ApiError, type ApiClient, sleep } from '../client/api-client.js';
import { type AgentTasks, runKey } from './agent-tasks.js';

export interface HeartbeatDeps {
  client: ApiClient;
  tasks: AgentTasks;
  /** Jobs of idle warm and template sessions: the answer names those that ended. */
  idleJobs(): string[];
  jobsEnded(jobs: string[]): void;
  draining(): boolean;
  signal: AbortSignal;
  /** Joins again (the coordinator no longer knows this agent). */
  rejoin(): Promise<void>;
  log(line: string): void;
}

export class Heartbeat {
  /** Set from the coordinator's answer when the agent joins. */
  intervalSeconds = 5;
  /** Attempts whose heartbeat already said they are uploading their results. */
  private readonly saidUploading = new Set<string>();
  private uploadingTimer: NodeJS.Timeout | null = null;

  constructor(private readonly deps: HeartbeatDeps) {}

  /** Beats until the agent stops. */
  async loop(): Promise<void> {
    const { signal } = this.deps;
    while (!signal.aborted) {
      await sleep(this.intervalSeconds * 1000, signal);
      if (signal.aborted) break;
      await this.once();
    }
  }

  /** An attempt that ended: nothing more to say about it. */
  forget(key: string): void {
    this.saidUploading.delete(key);
  }

  /**
   * Tells the coordinator about tasks uploading their results a second after one starts to, if it
   * still is then (a short upload is over before anyone would see it, and costs no request).
   */
  sayUploadingSoon(): void {
    if (this.uploadingTimer) return;
    this.uploadingTimer = setTimeout(() => {
      this.uploadingTimer = null;
      const unsaid = [...this.deps.tasks.running.entries()].some(([key, run]) => run.holdsLease && run.uploading && !this.saidUploading.has(key));
      if (unsaid && !this.deps.signal.aborted) void this.once();
    }, 1000);
    this.uploadingTimer.unref();
  }

  async once(): Promise<void> {
    const { client, tasks: agentTasks, log } = this.deps;
    try {
      // Only attempts still holding a lease: one that has reported is the coordinator's no more.
      // Those whose work is over say they are uploading: the coordinator counts them apart.
      const leased = [...agentTasks.running.entries()].filter(([, r]) => r.holdsLease);
      const uploading = leased.filter(([, r]) => r.uploading).map(([key]) => key);
      const tasks = [
        ...leased.map(([, r]) => ({ taskId: r.task.taskId, attempt: r.task.attempt, ...(r.uploading ? { uploading: true } : {}) })),
        ...agentTasks.held.map((t) => ({ taskId: t.taskId, attempt: t.attempt })),
      ];
      // The jobs of idle warm sessions: the answer names those that ended, whose sessions then close.
      const jobs = [...new Set(this.deps.idleJobs())];
      // A heartbeat stuck on a dead connection (a host cut off, then the coordinator restarted)
      // would hold up every later one: give up after two intervals and send the next.
      const held = agentTasks.held.map((t) => ({ taskId: t.taskId, attempt: t.attempt }));
      const { cancel, endedJobs = [], giveBack = [] } = await client.json<HeartbeatAnswer, HeartbeatBody>(
        'POST',
        '/agent/heartbeat',
        { tasks, draining: this.deps.draining(), ...(jobs.length > 0 ? { jobs } : {}), ...(held.length > 0 ? { held } : {}) },
        { signal: AbortSignal.timeout(Math.max(2000, this.intervalSeconds * 2000)) },
      );
      for (const key of uploading) if (agentTasks.running.has(key)) this.saidUploading.add(key);
      if (endedJobs.length > 0) this.deps.jobsEnded(endedJobs);
      // A job of higher priority waits: held tasks go back to the queue so that it is served first.
      for (const attempt of giveBack) {
        if (!agentTasks.takeHeld(attempt)) continue;
        log(`held task ${attempt.taskId} given back: a job of higher priority is waiting`);
        void client.json('POST', `/agent/tasks/${attempt.taskId}/release`, { attempt: attempt.attempt, reason: 'given back unstarted: a job of higher priority is waiting' }).catch(() => undefined);
      }
      for (const attempt of cancel) {
        if (agentTasks.takeHeld(attempt)) log(`held task ${attempt.taskId} (attempt ${attempt.attempt}) was stopped or reassigned: dropped`);
        const run = agentTasks.running.get(runKey(attempt));
        if (run) {
          log(`task ${attempt.taskId} (attempt ${attempt.attempt}) was stopped or reassigned: killing it`);
          run.stop('canceled');
        }
      }
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) await this.deps.rejoin().catch(() => undefined);
      // Unreachable coordinator: the tasks keep running; the next heartbeat tries again.
    }
  }
}
