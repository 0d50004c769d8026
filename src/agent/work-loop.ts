// The agent's work loop: start held tasks as cores free, lease more (with the reports of the tasks
// that ended, in one request), and wait when there is nothing to ask for. When the agent stops or
// drains the loop ends, and leased tasks never started are given back.
import type { LeaseAnswer, LeasedTask } from '../wire/agents.js';
import { ApiError, type ApiClient, backoffMs, sleep, type RequestOptions } from '../client/api-client.js';
import type { AgentTasks } from './agent-tasks.js';
import { nextLeaseRequest, workRequest, type Completion, type CompletionResult, type LeaseRequest } from './protocol.js';
import type { RunnerDeps } from './task-runner.js';

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

export interface WorkLoopDeps {
  client: ApiClient;
  tasks: AgentTasks;
  /** Tasks to hold besides those running (`--prefetch`). */
  prefetch: number;
  /** Aborted when the agent stops now. */
  signal: AbortSignal;
  /** Whether the agent drains: it finishes its tasks and takes no new ones. */
  draining(): boolean;
  /** Joins again (the coordinator no longer knows this agent). */
  rejoin(): Promise<void>;
  /** Hears of each attempt that ended. */
  onRunEnded(key: string): void;
  log(line: string): void;
}

export class WorkLoop {
  /** Reports of finished attempts not sent yet: they go together, with the next lease. */
  private readonly outbox: QueuedReport[] = [];
  private phase: LoopPhase = 'asking';
  /** Counts what may let the agent start or lease more (a task ended, cores freed, a stop). */
  private changes = 0;
  private wake: (() => void) | null = null;

  constructor(private readonly deps: WorkLoopDeps) {}

  /** Runs until the agent stops or drains; then gives back the leased tasks it never started. */
  async run(runner: RunnerDeps): Promise<void> {
    const { client, tasks, signal } = this.deps;
    let failures = 0;
    // Prefetch asks once per change: refused (the queue is short), it waits for a task to end.
    let prefetchAskedAt = -1;
    while (!signal.aborted && !this.deps.draining()) {
      tasks.startHeld(runner, (key) => {
        this.deps.onRunEnded(key);
        this.changed();
      });
      const lease = nextLeaseRequest({
        slots: tasks.slots,
        usedCores: tasks.usedCores,
        held: tasks.held.length,
        holding: tasks.holding,
        prefetch: this.deps.prefetch,
        prefetchAsked: prefetchAskedAt === this.changes,
      });
      const reports = this.outbox.splice(0);
      if (reports.length === 0 && !lease) {
        this.phase = 'idle';
        await this.waitForChange();
        this.phase = 'asking';
        continue;
      }
      if (lease && lease.freeCores === 0) prefetchAskedAt = this.changes;
      try {
        let leased: LeasedTask[];
        if (reports.length > 0) leased = await this.send(reports, lease);
        else {
          // A long-poll only when idle: one that holds tasks asks again when the next one ends.
          const request = workRequest([], lease)!;
          const longPoll = Boolean(request.body.waitSeconds);
          if (longPoll) this.phase = 'long-poll';
          // Only a long-poll is cut short by a stop: a quick answer is awaited, so the tasks it
          // brings are given back below rather than stranded until their leases run out.
          leased = (await client.json<LeaseAnswer>('POST', request.path, request.body, longPoll ? { signal } : {})).tasks;
          this.phase = 'asking';
        }
        failures = 0;
        tasks.hold(leased);
        if (signal.aborted || this.deps.draining()) break;
      } catch (err) {
        this.phase = 'asking';
        if (signal.aborted) break;
        if (err instanceof ApiError && err.status === 401) {
          this.deps.log('the coordinator no longer knows this agent; joining again');
          await this.deps.rejoin().catch(() => undefined);
        }
        await sleep(backoffMs(failures++, 500, 10_000), signal);
      }
    }
    // Reports from here on (draining: the tasks still running) go on their own.
    this.phase = 'stopped';
    void this.flush();
    // Leased but never started: give them straight back (the attempt does not count).
    await Promise.all(tasks.held.splice(0).map((t) => client.json('POST', `/agent/tasks/${t.taskId}/release`, { attempt: t.attempt, reason: 'the agent is stopping' }).catch(() => undefined)));
  }

  /** Something changed that may let the agent start or lease more: the loop looks again. */
  changed(): void {
    this.changes++;
    this.wake?.();
  }

  /** A finished attempt's report, sent with the others and the next lease (see LoopPhase). */
  deliver(completion: Completion, delivery: RequestOptions): Promise<void> {
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
   * Reports finished attempts, with `lease` in the same request, and returns the tasks leased. A
   * request with a lease is sent once: were its answer lost, retrying would strand the tasks it
   * leased until their leases ran out; the reports are then retried on their own, for as long as it
   * takes (each run's `delivery` says how long and hears of each retry).
   */
  private async send(reports: QueuedReport[], lease: LeaseRequest | null): Promise<LeasedTask[]> {
    const request = workRequest(
      reports.map((r) => r.completion),
      lease,
    )!;
    // With a lease: not cut short by a stop (see run()), the tasks it brings are given back.
    const options: RequestOptions = lease
      ? {}
      : {
          ...reports[0]!.delivery,
          onRetry: (err, attempt) => {
            for (const r of reports) r.delivery.onRetry?.(err, attempt);
          },
        };
    let answer: { results: CompletionResult[]; tasks?: LeasedTask[] };
    try {
      answer = await this.deps.client.json('POST', request.path, request.body, options);
    } catch (err) {
      const retriable = !(err instanceof ApiError) || (err.status >= 500 && err.status !== 507);
      if (lease && retriable) return this.send(reports, null);
      for (const r of reports) r.fail(err);
      if (lease) throw err;
      return [];
    }
    reports.forEach((r, i) => r.settle(answer.results[i]!));
    return answer.tasks ?? [];
  }

  private waitForChange(): Promise<void> {
    return new Promise((resolve) => {
      this.wake = () => {
        this.wake = null;
        resolve();
      };
    });
  }
}
