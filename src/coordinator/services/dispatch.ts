// The agents' hot path: leases and reports of results. A thousand agents each asking for one task and
// reporting one at a time would cost a dozen statements per request; instead the requests that
// arrive in one turn of the event loop are served together, set at a time, in one transaction: one
// read of the tasks they report, one UPDATE per kind of change for all of them, one candidate read
// and one lease UPDATE for all the agents asking for work. Each request is still judged on its own,
// by the rule `completeTask` judges it by (core/completion-outcome.ts): a result is accepted only
// from the agent holding the task's current lease at that attempt (409 lease_lost otherwise), and
// each agent's lease is what it would get if the requests came one after another, in the order
// they arrived.
import { type DoneTask, judgeAttempt, plainSuccess, taskOutcome } from '../../core/completion-outcome.js';
import * as blobsRepo from '../../store/repositories/blobs.js';
import * as taskBatches from '../../store/repositories/task-batches.js';
import { transact } from '../../store/group-commit.js';
import type { Db } from '../../store/schema.js';
import { HttpError, badRequest, leaseLost } from '../errors.js';
import type { AgentPrincipal } from './agents.js';
import { type ServiceContext, nowIso } from './context.js';
import { refreshJobStatus } from './jobs.js';
import { settleJobsAfterCommit } from './job-settling.js';
import { isPostgres } from '../../store/dialect.js';
import { kindOf } from '../kinds/index.js';
import { type Completion, completeTask, filesProblem, notUploaded, reportOf, resultFiles } from './completion.js';
import { type Lease, type LeaseRequest, type LeasedTask, announceLease, leaseForMany } from './leasing.js';
import { wakeForQuotas } from './quotas.js';

export interface TaskCompletion extends Completion {
  taskId: string;
}

export type CompletionResult = { taskId: string; accepted: true } | { taskId: string; accepted: false; status: number; error: { code: string; message: string } };

const refused = (taskId: string, err: HttpError): CompletionResult => ({ taskId, accepted: false, status: err.status, error: { code: err.code, message: err.message } });

/**
 * The room an agent has for tasks: up to `maxTasks` tasks fitting `freeCores` now, and up to `prefetch` to
 * hold, given that it holds `holding` already (see LeaseRequest).
 */
export interface LeaseRoom {
  freeCores: number;
  maxTasks: number;
  prefetch?: number;
  holding?: number;
}

/** Leases what the agent asks for (served with the others asking now). */
export async function leaseTasks(ctx: ServiceContext, agent: AgentPrincipal, wish: LeaseRoom): Promise<LeasedTask[]> {
  if ((wish.freeCores < 1 || wish.maxTasks < 1) && !wish.prefetch) return [];
  const served = await groupOf(ctx).serve({ agent, items: [], grouped: [], next: wish });
  announceLease(ctx, served.lease!);
  return served.lease!.tasks;
}

/**
 * Accepts a batch of one agent's completions and, with `next`, leases its next tasks. Successful
 * script tasks (the common case) are stored with those of other requests arriving at the same time,
 * with one O(1) status check per job and one job event per job (successes make no work for others,
 * so no work event). Failures, warnings and tasks of kinds without the quick path (render) go
 * through `completeTask` one by one (retries, blocklists and frame checks stay in one place); the next lease then waits for them, so that a
 * failure counted against this agent (a blocklist) is seen by it. Answers one result per completion,
 * in order.
 */
export async function completeTasks(
  ctx: ServiceContext,
  agent: AgentPrincipal,
  items: readonly TaskCompletion[],
  next?: LeaseRoom,
): Promise<{ results: CompletionResult[]; tasks?: LeasedTask[] }> {
  const results = new Map<number, CompletionResult>();
  const grouped: number[] = [];
  const oneByOne: number[] = [];
  const seen = new Set<string>();
  items.forEach((c, i) => {
    if (seen.has(c.taskId)) return oneByOne.push(i); // the second report of a task: judged after the first
    seen.add(c.taskId);
    const problem = filesProblem(c);
    if (problem) return results.set(i, refused(c.taskId, badRequest(problem)));
    (plainSuccess(c) ? grouped : oneByOne).push(i);
  });

  let lease: Lease | undefined;
  if (grouped.length > 0 || (next && oneByOne.length === 0)) {
    const served = await groupOf(ctx).serve({ agent, items, grouped, next: oneByOne.length === 0 ? next : undefined });
    for (const [i, r] of served.results) results.set(i, r);
    oneByOne.push(...served.oneByOne);
    for (const a of served.accepted) ctx.bus.emit('task', a.taskId, a.jobId);
    for (const jobId of new Set(served.accepted.map((a) => a.jobId))) ctx.bus.emit('job', jobId);
    if (served.accepted.length > 0) wakeForQuotas(ctx);
    lease = served.lease;
    if (lease) announceLease(ctx, lease);
  }

  for (const i of oneByOne.sort((a, b) => a - b)) {
    const { taskId, ...completion } = items[i]!;
    try {
      await completeTask(ctx, agent, taskId, completion);
      results.set(i, { taskId, accepted: true });
    } catch (err) {
      if (!(err instanceof HttpError) || err.status >= 500) throw err;
      results.set(i, refused(taskId, err));
    }
  }
  const answers = items.map((_, i) => results.get(i)!);
  if (!next) return { results: answers };
  return { results: answers, tasks: lease ? lease.tasks : await leaseTasks(ctx, agent, next) };
}

/** One request's share of a group: its successful script completions and, maybe, a lease. */
interface Part {
  agent: AgentPrincipal;
  items: readonly TaskCompletion[];
  /** Indexes into `items` of the successes to judge set at a time. */
  grouped: readonly number[];
  /** Lease in the same transaction, unless a completion turns out to need `completeTask`. */
  next: LeaseRoom | undefined;
}

interface Served {
  results: Map<number, CompletionResult>;
  accepted: { taskId: string; jobId: string }[];
  /** Completions to be judged one by one after all (render tasks: their frames are checked). */
  oneByOne: number[];
  lease?: Lease;
}

interface Waiting {
  part: Part;
  resolve(served: Served): void;
  reject(err: unknown): void;
}

/** At most this many requests are served together, so one burst cannot hold the writer for long. */
const MAX_GROUP = 256;

/**
 * PostgreSQL: groups served at once by one coordinator. Each group is a transaction of some twenty
 * round-trips whose statements cost little more for 500 tasks than for 50; served one per request
 * as they arrived (8 agents: 1.2 requests a group), groups contended for the same candidate rows
 * and the server's 2 cores. With a bound, requests arriving while groups are served wait and are
 * served together. SQLite serializes its transactions anyway (group-commit.ts): no bound there.
 */
const PG_GROUPS_AT_ONCE = Number(process.env.DROVER_PG_GROUPS_AT_ONCE ?? 2);

class RequestGroup {
  private waiting: Waiting[] = [];
  private scheduled = false;
  private serving = 0;
  private readonly atOnce: number;

  constructor(private readonly ctx: ServiceContext) {
    this.atOnce = isPostgres(ctx.db) ? PG_GROUPS_AT_ONCE : Infinity;
  }

  serve(part: Part): Promise<Served> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ part, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.waiting.length === 0 || this.serving >= this.atOnce) return;
    this.scheduled = true;
    // After the I/O phase: every request read in this turn has asked by then.
    setImmediate(() => void this.flush());
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
    const group = this.waiting.splice(0, MAX_GROUP);
    this.serving++;
    this.schedule();
    try {
      // Answered only after the commit: before it, nothing of theirs is durable. A failure here is
      // the database's (a request's own mistakes are answers, not exceptions), so all hear of it.
      const { served, settleAfterCommit } = await transact(this.ctx.db, (trx) => serveGroup(this.ctx, trx, group.map((w) => w.part)));
      // Before the answers: an agent told its last task is accepted finds its job ended. Its
      // failure fails no request (their results are committed); housekeeping settles the job.
      if (settleAfterCommit.length > 0) await settleJobsAfterCommit(this.ctx, settleAfterCommit).catch((err: Error) => console.error(`[dispatch] settling jobs after a commit failed (housekeeping will): ${err.message}`));
      group.forEach((w, k) => w.resolve(served[k]!));
    } catch (err) {
      for (const w of group) w.reject(err);
    } finally {
      this.serving--;
      this.schedule();
    }
  }
}

const groups = new WeakMap<ServiceContext, RequestGroup>();

function groupOf(ctx: ServiceContext): RequestGroup {
  let group = groups.get(ctx);
  if (!group) groups.set(ctx, (group = new RequestGroup(ctx)));
  return group;
}

async function serveGroup(ctx: ServiceContext, trx: Db, parts: readonly Part[]): Promise<{ served: Served[]; settleAfterCommit: string[] }> {
  const served: Served[] = parts.map(() => ({ results: new Map(), accepted: [], oneByOne: [] }));
  // The blobs and tasks the reports name, each once (most reports name the same empty stdout blob).
  const shas = new Set<string>();
  const reportedIds = new Set<string>();
  for (const p of parts) {
    for (const i of p.grouped) {
      const c = p.items[i]!;
      reportedIds.add(c.taskId);
      for (const f of c.files) shas.add(f.sha256);
      shas.add(c.stdout.sha256);
      shas.add(c.stderr.sha256);
    }
  }
  const known = reportedIds.size > 0 ? await blobsRepo.knownBlobs(trx, [...shas]) : new Set<string>();
  const held = new Map((reportedIds.size > 0 ? await taskBatches.endingTasks(trx, [...reportedIds]) : []).map((t) => [t.id, t]));

  // Judge each completion as if the requests came one after another: a task reported twice (two
  // requests of one agent) is accepted once; the second finds it no longer running.
  const taken = new Set<string>();
  const take: { item: TaskCompletion; jobId: string; outcome: DoneTask }[] = [];
  parts.forEach((p, k) => {
    for (const i of p.grouped) {
      const c = p.items[i]!;
      const t = held.get(c.taskId);
      const allKnown = known.has(c.stdout.sha256) && known.has(c.stderr.sha256) && c.files.every((f) => known.has(f.sha256));
      const missing = allKnown ? [] : resultFiles(c).filter((f) => !known.has(f.sha256));
      if (missing.length > 0) served[k]!.results.set(i, refused(c.taskId, badRequest(notUploaded(missing))));
      else if (!t || taken.has(c.taskId) || t.status !== 'running' || t.agent_id !== p.agent.id || t.attempt !== c.attempt) served[k]!.results.set(i, refused(c.taskId, leaseLost(c.taskId)));
      else {
        // Judged as completeTask judges it, but with nothing to read first: kinds of quick
        // completion have no success check. Any other (render: frames are checked), or anything
        // but a success, is judged by completeTask after all.
        const kind = kindOf(t.job.kind);
        const verdict = kind.quickCompletion ? judgeAttempt(reportOf(c), { successProblem: null, warnsWhenNothingProduced: kind.warnsWhenNothingProduced }) : null;
        if (!verdict?.succeeded) {
          served[k]!.oneByOne.push(i);
          continue;
        }
        taken.add(c.taskId);
        take.push({ item: c, jobId: t.job_id, outcome: taskOutcome(verdict) });
        served[k]!.results.set(i, { taskId: c.taskId, accepted: true });
        served[k]!.accepted.push({ taskId: c.taskId, jobId: t.job_id });
      }
    }
  });

  if (take.length > 0) {
    const now = nowIso();
    const byAttempt = new Map<number, taskBatches.EndingTask[]>();
    for (const { item } of take) {
      const tasks = byAttempt.get(item.attempt);
      if (tasks) tasks.push(held.get(item.taskId)!);
      else byAttempt.set(item.attempt, [held.get(item.taskId)!]);
    }
    // Successes all: their attempt rows end alike (done, exit code 0, no error).
    for (const [attempt, tasks] of byAttempt) await taskBatches.finishAttempts(trx, tasks, attempt, { status: 'done', finished_at: now, exit_code: 0, error: null });
    const ids = take.map((t) => t.item.taskId);
    const files: { task_id: string; path: string; sha256: string; size: number }[] = [];
    for (const { item } of take) for (const f of resultFiles(item)) files.push({ task_id: item.taskId, path: f.path, sha256: f.sha256, size: f.size });
    await taskBatches.replaceFilesOfTasks(trx, ids, files);
    // Done, the agent kept, the lease cleared, each with its warning (kept where a done task has no
    // error, see taskView): one UPDATE per warning (a task that left nothing gets one).
    const byWarning = new Map<string | null, string[]>();
    for (const { item, outcome } of take) {
      const tasks = byWarning.get(outcome.error);
      if (tasks) tasks.push(item.taskId);
      else byWarning.set(outcome.error, [item.taskId]);
    }
    for (const [warning, tasks] of byWarning) await taskBatches.updateTasks(trx, tasks, { status: 'done', lease_expires_at: null, finished_at: now, exit_code: 0, error: warning });
  }
  // Refreshing a job's status locks its row on PostgreSQL until the commit, and every replica's
  // reports of that job wait for it: 10,000 agents on 2 replicas ran one such transaction at a time.
  // So jobs without steps are refreshed after the lease, holding the lock only for the refresh and
  // the commit. A job with steps is refreshed first, as a step it completes queues the next one's
  // tasks, which the lease below may hand out.
  // Sorted: every group locks its jobs in one order (no deadlock between two groups).
  const finishing = [...new Set(take.map((t) => t.jobId))].sort();
  const withSteps = new Set(take.filter((t) => kindOf(held.get(t.item.taskId)!.job.kind).steps).map((t) => t.jobId));
  for (const jobId of finishing) if (withSteps.has(jobId)) await refreshJobStatus(trx, jobId);

  // Leases for the requests whose completions are all settled; the others lease after theirs.
  const asking = parts.flatMap((p, k) => (p.next && served[k]!.oneByOne.length === 0 ? [{ k, ask: { agent: p.agent, ...p.next } satisfies LeaseRequest }] : []));
  if (asking.length > 0) {
    const leases = await leaseForMany(ctx, trx, asking.map((a) => a.ask));
    asking.forEach(({ k }, n) => (served[k]!.lease = leases[n]!));
  }
  // The other jobs of the successes last: their lease costs more the longer the queue is (1,000
  // jobs queued ahead made every group wait for the others' leases: PostgreSQL dispatch 1.6-2.9x
  // slower); after it, only the status probe and the commit are paid one group at a time.
  // On PostgreSQL they are not refreshed here at all: job-settling.ts derives their status after
  // the commit, without holding their row from here to the commit.
  const settleAfterCommit = finishing.filter((jobId) => !withSteps.has(jobId));
  if (isPostgres(trx)) {
    // A job this group has just leased tasks of cannot end before their reports, which settle it
    // in turn: no probe for it (on a busy job, that is every group but the last few).
    const leasedFrom = new Set(served.flatMap((s) => s.lease?.tasks.map((t) => t.jobId) ?? []));
    return { served, settleAfterCommit: settleAfterCommit.filter((jobId) => !leasedFrom.has(jobId)) };
  }
  for (const jobId of settleAfterCommit) await refreshJobStatus(trx, jobId);
  return { served, settleAfterCommit: [] };
}
