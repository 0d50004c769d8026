// The agent side of a task's life: leasing, completing, releasing, and lease expiry. A result is
// accepted only from the agent that holds the task's current lease at its current attempt, so each
// task's final results come from exactly one attempt.
import { relativePathProblem } from '../../core/inputs.js';
import { fitTasks } from '../../core/scheduling.js';
import { hostFactsOf, hostRequirementProblem } from '../../core/templates/host-match.js';
import type { HostRequirements } from '../../core/templates/template.js';
import { stepRequirements } from './step-requirements.js';
import { endJobIfNoAgentLeft, retryPlacement } from './agent-choice.js';
import { fairOrder } from './lease-order.js';
import { leaseRoom, wakeForQuotas } from './quotas.js';
import { type JobRequirements, requirementMiss } from '../../core/job-requirements.js';
import { afterFailedAttempt } from '../../core/states.js';
import { NO_RESULTS_WARNING, producedNothing, type TaskLeftovers } from '../../core/task-results.js';
import * as agentFailuresRepo from '../../store/repositories/agent-failures.js';
import * as agentsRepo from '../../store/repositories/agents.js';
import * as blobsRepo from '../../store/repositories/blobs.js';
import * as jobsRepo from '../../store/repositories/jobs.js';
import * as tasksRepo from '../../store/repositories/tasks.js';
import * as taskBatches from '../../store/repositories/task-batches.js';
import { isPostgres } from '../../store/dialect.js';
import type { Db } from '../../store/schema.js';
import { badRequest, leaseLost } from '../errors.js';
import type { AgentPrincipal } from './agents.js';
import { type ServiceContext, isoIn, nowIso } from './context.js';
import { type FileRef, refreshJobStatus } from './jobs.js';
import { kindOf } from '../kinds/index.js';
import type { JobKindDefinition } from '../kinds/kind.js';
import { transact } from '../../store/group-commit.js';
import type { LeasedTask } from '../../wire/agents.js';

// What an agent receives is part of the wire contract.
export type { LeasedTask } from '../../wire/agents.js';

/** Candidates read per lease at least: enough to backfill around tasks too big for the agent. */
const CANDIDATE_WINDOW = 256;

export interface Lease {
  tasks: LeasedTask[];
  /** PostgreSQL: candidates this lease locked but did not take (other leasers skipped them). */
  hidLeftovers: boolean;
}

/**
 * One agent's request for work: up to `maxTasks` tasks that fit in `freeCores` together, and up to
 * `prefetch` more to hold, each fitting the agent, to start the moment a slot frees. `holding` is
 * how many tasks the agent holds already (running or waiting to start, not counting any it reports
 * in the same request): prefetch fills the agent's hold up to its share of the queue.
 */
export interface LeaseAsk {
  agent: AgentPrincipal;
  freeCores: number;
  maxTasks: number;
  prefetch?: number;
  holding?: number;
}

/** What one leaseSet serves: `largest` caps each task's cores (prefetched tasks run one after another). */
interface FitAsk extends LeaseAsk {
  largest?: number;
}

/**
 * Leases for several agents asking at once (the requests of one turn of the event loop), set at a
 * time: one candidate read, one UPDATE and one INSERT for all of them instead of a few statements
 * each. The agents are served in the order they asked, each taking from the front of the queue what
 * fits it, so the outcome is the one they would get one after another. Answers one lease per ask.
 * Runs inside the caller's transaction (results and the next lease commit together); after the
 * commit the caller announces each lease with `announceLease`.
 */
export async function leaseForMany(ctx: ServiceContext, trx: Db, asks: readonly LeaseAsk[]): Promise<Lease[]> {
  // Read afresh, not from the principal of a long-poll that may have waited since: a paused agent
  // (`drover worker pause`) takes nothing new, and labels set from the coordinator apply at once.
  const states = new Map((await agentsRepo.leasingStates(trx, [...new Set(asks.map((a) => a.agent.id))])).map((r) => [r.id, r]));
  asks = asks.map((a) => {
    const row = states.get(a.agent.id);
    return row ? { ...a, agent: { ...a.agent, host: hostFactsOf(row) } } : a;
  });
  const paused = new Set([...states.values()].filter((r) => r.paused === 1).map((r) => r.id));
  if (paused.size > 0) {
    const open = asks.flatMap((a, i) => (paused.has(a.agent.id) ? [] : [i]));
    const got = open.length > 0 ? await leaseOpen(ctx, trx, open.map((i) => asks[i]!)) : [];
    const leases: Lease[] = asks.map(() => ({ tasks: [], hidLeftovers: false }));
    open.forEach((i, k) => (leases[i] = got[k]!));
    return leases;
  }
  return leaseOpen(ctx, trx, asks);
}

/** leaseForMany for agents that may take work (none paused). */
async function leaseOpen(ctx: ServiceContext, trx: Db, asks: readonly LeaseAsk[]): Promise<Lease[]> {
  // Prefetch hides the round trip between an agent's tasks. It is served after every agent asking
  // for work it can start now, and fills an agent's hold (what it runs and what waits) up to
  // `holdCap`: its slots, one task waiting, and its share of the queue (queued / online agents). As
  // the queue drains every agent's hold shrinks to a task running and one waiting, so agents run out
  // of work together: none idles for a round trip, and no task waits behind a busy agent's current
  // one while another agent has nothing. (A cap on each ask instead, of its share less one, granted
  // nothing once fewer than two tasks per agent were queued: every task of that last stretch cost
  // its agent a round trip, 66–185 ms of idle per agent in the scale bench, 0–31 ms with this rule.)
  const prefetching = asks.flatMap((a, i) => ((a.prefetch ?? 0) > 0 && a.agent.slots >= 1 ? [i] : []));
  if (prefetching.length === 0) return leaseFitting(ctx, trx, asks);
  const nowOf = (a: LeaseAsk) => (a.freeCores >= 1 ? Math.min(a.maxTasks, a.freeCores) : 0);
  // An agent never holds more than its slots and its prefetch (at most 100); a larger claim counts as that.
  const holdingOf = (a: LeaseAsk) => Math.min(a.holding ?? 0, a.agent.slots + 100);
  const wanted = prefetching.reduce((n, i) => n + asks[i]!.prefetch!, 0);
  // Counted before anything is leased: what the asks for now may take is set aside first.
  const takenNow = asks.reduce((n, a) => n + nowOf(a), 0);
  const online = Math.max(1, await onlineAgents(ctx, trx));
  // Counted only as far as can matter: an ask is capped only while the share of the queue is below
  // what it would hold (prefetch + holding + now - slots), and `wanted` covers every ask.
  const deepest = Math.max(0, ...prefetching.map((i) => asks[i]!.prefetch! + holdingOf(asks[i]!) + nowOf(asks[i]!) - asks[i]!.agent.slots));
  const queued = (await tasksRepo.countQueuedUpTo(trx, takenNow + wanted + online * deepest)) - takenNow;
  const shareOfQueue = Math.floor(queued / online);
  let left = queued;
  const extra: { i: number; ask: FitAsk }[] = [];
  for (const i of prefetching) {
    const a = asks[i]!;
    const holdCap = a.agent.slots + 1 + shareOfQueue;
    const n = Math.min(a.prefetch!, holdCap - holdingOf(a) - nowOf(a), left);
    if (n <= 0) continue;
    left -= n;
    extra.push({ i, ask: { agent: a.agent, freeCores: n * a.agent.slots, maxTasks: n, largest: a.agent.slots } });
  }
  // One pass for both: the asks for now first, then the prefetch.
  const got = await leaseFitting(ctx, trx, [...asks, ...extra.map((e) => e.ask)], asks.length);
  const leases = got.slice(0, asks.length);
  extra.forEach(({ i }, k) => {
    const more = got[asks.length + k]!;
    leases[i] = { tasks: [...leases[i]!.tasks, ...more.tasks], hidLeftovers: leases[i]!.hidLeftovers || more.hidLeftovers };
  });
  return leases;
}

/**
 * The farm's online agents, for the prefetch share: counted at most once a second (the input of a
 * heuristic, not worth a query in every lease group).
 */
async function onlineAgents(ctx: ServiceContext, trx: Db): Promise<number> {
  const now = Date.now();
  const known = onlineCounts.get(ctx);
  if (known && now - known.at < 1000) return known.n;
  const n = await agentsRepo.countOnlineAgents(trx);
  onlineCounts.set(ctx, { n, at: now });
  return n;
}
const onlineCounts = new WeakMap<ServiceContext, { n: number; at: number }>();

/**
 * Serves asks in order, each taking from the front of the queue what fits it; the asks from index
 * `firstRound` on (prefetch) come after all those before it. Unless an agent asking before
 * `firstRound` is blocklisted somewhere, all share one candidate read, one UPDATE and one INSERT.
 */
async function leaseFitting(ctx: ServiceContext, trx: Db, asks: readonly FitAsk[], firstRound = asks.length): Promise<Lease[]> {
  const leases: Lease[] = asks.map(() => ({ tasks: [], hidLeftovers: false }));
  const live = asks.flatMap((a, i) => (a.freeCores >= 1 && a.maxTasks >= 1 ? [i] : []));
  if (live.length === 0) return leases;
  const limit = ctx.config.agentFailureLimit;
  // An agent blocklisted for some job leases on its own, the blocklist in its candidate query: a
  // window shared with others might hold nothing but tasks it must not take.
  const withBlocks = live.length > 1 ? await agentFailuresRepo.agentsWithBlocks(trx, [...new Set(live.map((i) => asks[i]!.agent.id))], limit) : null;
  const shared = withBlocks ? live.filter((i) => !withBlocks.has(asks[i]!.agent.id)) : [];
  const alone = withBlocks ? live.filter((i) => withBlocks.has(asks[i]!.agent.id)) : live;
  if (firstRound < asks.length && alone.some((i) => i < firstRound)) {
    // Served alone, after the shared set: it would come after the prefetch of the others. Two rounds.
    const first = await leaseFitting(ctx, trx, asks.slice(0, firstRound));
    return [...first, ...(await leaseFitting(ctx, trx, asks.slice(firstRound)))];
  }
  if (shared.length > 0) {
    const got = await leaseSet(ctx, trx, shared.map((i) => asks[i]!));
    shared.forEach((i, k) => (leases[i] = got[k]!));
  }
  for (const i of alone) {
    const ask = asks[i]!;
    leases[i] = (await leaseSet(ctx, trx, [ask], { agentId: ask.agent.id, limit }))[0]!;
  }
  return leases;
}

async function leaseSet(ctx: ServiceContext, trx: Db, asks: readonly FitAsk[], blocked?: { agentId: string; limit: number }): Promise<Lease[]> {
  const wanted = asks.reduce((n, a) => n + Math.min(a.maxTasks, a.freeCores), 0);
  // Template steps with host requirements: each ask takes only tasks its agent's host meets; steps
  // no asker meets stay out of the candidate window, so they cannot crowd out what these can run.
  const requirements = new Map<string, (HostRequirements | null)[] | null>();
  const skipSteps = async (jobId: string) => {
    const reqs = await stepRequirements(trx, jobId);
    requirements.set(jobId, reqs);
    if (!reqs) return [];
    return reqs.flatMap((r, step) => (r && asks.every((a) => hostRequirementProblem(r, a.agent.host) !== null) ? [step] : []));
  };
  const noAskerMeets = (text: string) => {
    const req = parsedRequirements(text);
    return asks.every((a) => requirementMiss(req, a.agent.host) !== null);
  };
  // Quotas: what limited users may still take; the same map is spent as this set of asks picks.
  const room = await leaseRoom(trx);
  const candidates = await tasksRepo.queuedCandidates(trx, asks.map((a) => a.freeCores), Math.max(CANDIDATE_WINDOW, wanted), blocked, skipSteps, noAskerMeets, room);
  const pool = await fairOrder(trx, candidates.map((c) => ({ ...c, taskId: c.id })));
  // A task that failed goes to an agent it has not failed on, while one that may run it is online.
  const placement = await retryPlacement(trx, pool, ctx.config.agentFailureLimit);
  // Jobs' own requirements (--memory, --gpus, --require), parsed once per job of the window.
  const jobReqs = new Map<string, JobRequirements>();
  for (const c of pool) if (c.requirements && !jobReqs.has(c.job_id)) jobReqs.set(c.job_id, JSON.parse(c.requirements) as JobRequirements);
  const meets = (ask: FitAsk, c: (typeof pool)[number]) => {
    const own = jobReqs.get(c.job_id);
    if (own && requirementMiss(own, ask.agent.host) !== null) return false;
    const req = requirements.get(c.job_id)?.[c.step];
    return !req || hostRequirementProblem(req, ask.agent.host) === null;
  };
  // Each ask takes from the front of what is left: skip the taken prefix instead of copying the
  // rest for every ask (a group of hundreds of asks over a window of thousands was quadratic).
  const taken = new Set<(typeof pool)[number]>();
  let head = 0;
  function* left(ask: FitAsk) {
    for (let j = head; j < pool.length; j++) {
      if (!taken.has(pool[j]!) && (requirements.size === 0 && jobReqs.size === 0 ? true : meets(ask, pool[j]!)) && (!placement || placement(ask.agent.id, pool[j]!))) yield pool[j]!;
    }
  }
  const admit =
    room.size === 0
      ? undefined
      : (c: (typeof pool)[number]) => {
          const r = room.get(c.user_id);
          if (r === undefined) return true;
          if (r < c.cores) return false;
          room.set(c.user_id, r - c.cores);
          return true;
        };
  const picks = asks.map((ask) => {
    const chosen = fitTasks(ask.freeCores, left(ask), ask.maxTasks, ask.largest, admit);
    for (const c of chosen) taken.add(c);
    while (head < pool.length && taken.has(pool[head]!)) head++;
    return chosen;
  });
  const all = picks.flatMap((chosen, k) => chosen.map((task) => ({ task, agentId: asks[k]!.agent.id })));
  if (all.length === 0) return asks.map(() => ({ tasks: [], hidLeftovers: false }));
  const now = nowIso();
  const expires = isoIn(ctx.config.leaseSeconds);
  await taskBatches.markLeased(trx, all.map(({ task, agentId }) => ({ taskId: task.id, agentId })), { expires, now });
  await taskBatches.insertAttempts(
    trx,
    all.map(({ task, agentId }) => ({ task_id: task.id, attempt: task.attempt + 1, agent_id: agentId, status: 'running', started_at: now, finished_at: null, exit_code: null, error: null, log_bytes: 0 })),
  );
  // Each job once per lease: its row, and its spec parsed (shared by its leased tasks, read only).
  const jobs = new Map<string, { row: jobsRepo.JobRow; spec: JobSpec; kind: JobKindDefinition<never> }>();
  const leases: Lease[] = [];
  for (const [k, chosen] of picks.entries()) {
    const out: LeasedTask[] = [];
    for (const before of chosen) {
      const task = { ...before, status: 'running' as const, agent_id: asks[k]!.agent.id, attempt: before.attempt + 1, tries: before.tries + 1, lease_expires_at: expires, started_at: now, finished_at: null, exit_code: null, error: null };
      let job = jobs.get(task.job_id);
      if (!job) {
        const row = (await jobsRepo.findJob(trx, task.job_id))!;
        jobs.set(row.id, (job = { row, spec: JSON.parse(row.spec) as JobSpec, kind: kindOf(row.kind) }));
        if (row.status === 'queued') await jobsRepo.updateJob(trx, row.id, { status: 'running', started_at: row.started_at ?? now });
      }
      const leasedTask = leasedTaskOf(job.row, job.spec, task);
      if (job.kind.refineLease) await job.kind.refineLease(trx, leasedTask, task);
      out.push(leasedTask);
    }
    leases.push({ tasks: out, hidLeftovers: false });
  }
  // PostgreSQL: candidates locked here but left untaken were skipped by concurrent leasers.
  if (taken.size < pool.length && isPostgres(trx)) leases[leases.length - 1]!.hidLeftovers = true;
  return leases;
}

/** After a lease committed: the events it makes. */
export function announceLease(ctx: ServiceContext, lease: Lease): void {
  for (const t of lease.tasks) ctx.bus.emit('task', t.taskId, t.jobId);
  for (const jobId of new Set(lease.tasks.map((t) => t.jobId))) ctx.bus.emit('job', jobId);
  // PostgreSQL: concurrent leasers skipped the candidates we locked but did not take; wake them to
  // look again (only after progress, so agents that fit nothing cannot wake each other forever).
  if (lease.hidLeftovers) ctx.bus.emit('work');
}

/** The parts of a job's stored spec a lease reads (render jobs carry more, passed on as they are). */
interface JobSpec {
  script?: FileRef;
  constants?: FileRef[];
  network?: boolean;
  files?: FileRef[];
}

function leasedTaskOf(job: jobsRepo.JobRow, jobSpec: JobSpec, task: tasksRepo.TaskRow): LeasedTask {
  const files: FileRef[] = [];
  if (jobSpec.script) files.push(jobSpec.script);
  for (const c of jobSpec.constants ?? []) files.push(c);
  for (const f of jobSpec.files ?? []) files.push(f);
  if (task.input_sha) files.push({ name: task.input_name, sha256: task.input_sha });
  return {
    taskId: task.id,
    jobId: job.id,
    index: task.idx,
    attempt: task.attempt,
    kind: job.kind as LeasedTask['kind'],
    cores: job.cores,
    priority: job.priority,
    ...requirementsForAgent(job.requirements),
    timeoutSeconds: job.task_timeout_seconds,
    image: job.image,
    network: jobSpec.network ?? false,
    files,
    ...(jobSpec.script ? { script: jobSpec.script.name } : {}),
    input: task.input_name,
    jobSpec,
    taskSpec: task.spec ? JSON.parse(task.spec) : null,
  };
}

/** The task, if `agent` holds its lease at `attempt`; otherwise the agent lost it. */
async function heldTask(db: Db, agent: AgentPrincipal, taskId: string, attempt: number) {
  await tasksRepo.lockTask(db, taskId);
  const task = await tasksRepo.findTaskWithOwner(db, taskId);
  if (!task || task.status !== 'running' || task.agent_id !== agent.id || task.attempt !== attempt) throw leaseLost(taskId);
  return task;
}

export interface ResultFile {
  path: string;
  sha256: string;
  size: number;
}

export interface Completion {
  attempt: number;
  exitCode: number | null;
  error?: string;
  /** A success that left something out (a render's preview that could not be made): kept as the task's warning. */
  warning?: string;
  files: ResultFile[];
  stdout: { sha256: string; size: number };
  stderr: { sha256: string; size: number };
}

/** What a completion says the task left behind. */
export function leftovers(c: Completion): TaskLeftovers {
  return { exitCode: c.exitCode, resultFiles: c.files.length, stdoutBytes: c.stdout.size };
}

/** A completion's files: those it lists, then its stdout and stderr. */
export function resultFiles(c: Completion): ResultFile[] {
  return [...c.files, { path: 'stdout.txt', ...c.stdout }, { path: 'stderr.txt', ...c.stderr }];
}

/** Why a completion's file list is refused (400): a path leading out of the task, or one listed twice. */
export function filesProblem(c: Completion): string | null {
  const seen = new Set<string>();
  for (const f of resultFiles(c)) {
    const problem = relativePathProblem(f.path);
    if (problem) return problem;
    if (seen.has(f.path)) return `result path "${f.path}" is listed twice`;
    seen.add(f.path);
  }
  return null;
}

/** Why a completion is refused (400) when some of its files are not in the blob store. */
export function notUploaded(missing: readonly ResultFile[]): string {
  return `result files were not uploaded first: ${missing.slice(0, 5).map((f) => f.path).join(', ')}`;
}

export async function completeTask(ctx: ServiceContext, agent: AgentPrincipal, taskId: string, c: Completion): Promise<void> {
  const problem = filesProblem(c);
  if (problem) throw badRequest(problem);
  const all = resultFiles(c);
  const known = await blobsRepo.knownBlobs(ctx.db, all.map((f) => f.sha256));
  const missing = all.filter((f) => !known.has(f.sha256));
  if (missing.length > 0) throw badRequest(notUploaded(missing));

  let jobId = '';
  let requeued = false;
  await transact(ctx.db, async (trx) => {
    const task = await heldTask(trx, agent, taskId, c.attempt);
    jobId = task.job_id;
    const now = nowIso();
    const kind = kindOf(task.job_kind);
    let succeeded = c.exitCode === 0 && !c.error;
    let error = succeeded ? null : (c.error ?? `the task exited with code ${c.exitCode}`);
    const problem = succeeded && kind.successProblem ? await kind.successProblem(trx, task) : null;
    if (problem) {
      succeeded = false;
      error = problem;
    }
    await tasksRepo.finishAttempt(trx, taskId, c.attempt, { status: succeeded ? 'done' : 'error', finished_at: now, exit_code: c.exitCode, error });
    // A done task keeps a warning where a failed one keeps its error (see taskView).
    if (succeeded && c.warning) error = c.warning;
    else if (succeeded && kind.warnsWhenNothingProduced && producedNothing(leftovers(c))) error = NO_RESULTS_WARNING;
    const giveUp = succeeded ? null : await countFailure(ctx, trx, task.job_id, taskId, agent.id, task.attempt - task.tries);
    let outcome: 'done' | 'queued' | 'error' = succeeded ? 'done' : !giveUp && afterFailedAttempt(task.tries, task.max_attempts) === 'retry' ? 'queued' : 'error';
    error = giveUp ? `${error}; ${giveUp}` : error;
    requeued = outcome === 'queued';
    if (outcome !== 'queued' && kind.settleTask) ({ status: outcome, error } = await kind.settleTask(trx, task, { status: outcome, error, files: all }));
    // A retried task keeps no files from the failed attempt; an ended task keeps its last attempt's.
    if (outcome !== 'queued') await tasksRepo.replaceTaskFiles(trx, taskId, all);
    await tasksRepo.updateTask(trx, taskId, {
      status: outcome,
      agent_id: outcome === 'queued' ? null : task.agent_id,
      lease_expires_at: null,
      finished_at: outcome === 'queued' ? null : now,
      exit_code: c.exitCode,
      error,
    });
    // That failure may have blocklisted the last online agent that could run the job's tasks.
    if (!succeeded) await endJobIfNoAgentLeft(ctx, trx, task.job_id);
    await refreshJobStatus(trx, task.job_id, () => (requeued = true));
  });
  ctx.bus.emit('task', taskId, jobId);
  ctx.bus.emit('job', jobId);
  // Only a retry makes work for others: announcing every success woke every idle agent's long-poll
  // to lease nothing (a herd of thousands of empty leases as a big job drained).
  if (requeued) ctx.bus.emit('work');
  else wakeForQuotas(ctx);
}

/** An agent that shuts down gives its task back; the attempt does not count against the task. */
export async function releaseTask(ctx: ServiceContext, agent: AgentPrincipal, taskId: string, attempt: number, reason: string): Promise<void> {
  let jobId = '';
  await transact(ctx.db, async (trx) => {
    const task = await heldTask(trx, agent, taskId, attempt);
    jobId = task.job_id;
    await tasksRepo.finishAttempt(trx, taskId, attempt, { status: 'interrupted', finished_at: nowIso(), exit_code: null, error: reason });
    await tasksRepo.updateTask(trx, taskId, { status: 'queued', agent_id: null, lease_expires_at: null, tries: Math.max(0, task.tries - 1) });
  });
  ctx.bus.emit('task', taskId, jobId);
  ctx.bus.emit('work');
}

/** Requeues (or errors) tasks whose agent stopped renewing the lease. Returns how many. */
export async function expireLeases(ctx: ServiceContext): Promise<number> {
  const now = nowIso();
  const expired = await tasksRepo.expiredLeases(ctx.db, now);
  for (const e of expired) {
    const changed = await ctx.db.transaction().execute(async (trx) => {
      await tasksRepo.lockTask(trx, e.id);
      const task = await tasksRepo.findTaskWithOwner(trx, e.id);
      if (!task || task.status !== 'running' || task.attempt !== e.attempt || !task.lease_expires_at || task.lease_expires_at >= now) return false;
      const error = 'the lease expired: the agent stopped answering';
      await tasksRepo.finishAttempt(trx, task.id, task.attempt, { status: 'lost', finished_at: now, exit_code: null, error });
      const giveUp = task.agent_id ? await countFailure(ctx, trx, task.job_id, task.id, task.agent_id, task.attempt - task.tries) : null;
      let outcome: 'done' | 'queued' | 'error' = !giveUp && afterFailedAttempt(task.tries, task.max_attempts) === 'retry' ? 'queued' : 'error';
      let ended: string | null = giveUp ? `${error}; ${giveUp}` : error;
      const settle = kindOf(task.job_kind).settleTask;
      if (outcome === 'error' && settle) ({ status: outcome, error: ended } = await settle(trx, task, { status: outcome, error: ended, files: [] }));
      await tasksRepo.updateTask(trx, task.id, {
        status: outcome,
        agent_id: outcome === 'queued' ? null : task.agent_id,
        lease_expires_at: null,
        finished_at: outcome === 'queued' ? null : now,
        error: ended,
      });
      await endJobIfNoAgentLeft(ctx, trx, task.job_id);
      await refreshJobStatus(trx, task.job_id);
      return true;
    });
    if (changed) {
      ctx.bus.emit('task', e.id, e.job_id);
      ctx.bus.emit('job', e.job_id);
    }
  }
  if (expired.length > 0) ctx.bus.emit('work');
  return expired.length;
}

/**
 * Counts a failed attempt against the agent (past the limit it gets no more of the job's tasks) and
 * returns why the task must not be retried when it has now failed on too many different agents:
 * then the task, not the agents, is what is broken.
 */
async function countFailure(ctx: ServiceContext, db: Db, jobId: string, taskId: string, agentId: string, sinceAttempt: number): Promise<string | null> {
  const limit = ctx.config.agentFailureLimit;
  await agentFailuresRepo.recordAgentFailure(db, jobId, agentId);
  const agents = await agentFailuresRepo.distinctFailedAgents(db, taskId, sinceAttempt);
  return agents >= limit ? `it failed on ${agents} different agents` : null;
}

/** What of a job's requirements the agent applies to each task: the GPUs it hands out and the memory it enforces. */
function requirementsForAgent(text: string | null): Pick<LeasedTask, 'gpus' | 'memoryMiB'> {
  if (!text) return {};
  const req = JSON.parse(text) as JobRequirements;
  return { gpus: req.gpus ?? 0, ...(req.memoryMiB ? { memoryMiB: req.memoryMiB } : {}) };
}

/** Job requirements by their stored text: a farm has few distinct ones, and every lease reads them all. */
const requirementsCache = new Map<string, JobRequirements>();
function parsedRequirements(text: string): JobRequirements {
  let req = requirementsCache.get(text);
  if (!req) {
    if (requirementsCache.size >= 10_000) requirementsCache.clear();
    req = JSON.parse(text) as JobRequirements;
    requirementsCache.set(text, req);
  }
  return req;
}
