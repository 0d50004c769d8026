// Leasing: which queued tasks each agent asking for work gets, in the lease order (fair share,
// priority, age), fitting its cores, host and the job's requirements, within users' quotas, away
// from agents blocklisted for the job. How leased attempts end is in completion.ts and
// lease-expiry.ts.
import { fitTasks } from '../../core/scheduling.js';
import { hostFactsOf, hostRequirementProblem } from '../../core/templates/host-match.js';
import type { HostRequirements } from '../../core/templates/template.js';
import { stepRequirements } from './step-requirements.js';
import { advanceFollowingSteps } from './step-gate.js';
import { retryPlacement } from './agent-choice.js';
import { fairOrder } from './lease-order.js';
import { leaseRoom } from './quotas.js';
import { type JobRequirements, requirementMiss } from '../../core/job-requirements.js';
import { prefetchShares, prefetches, queuedCountCap } from '../../core/prefetch-shares.js';
import * as agentFailuresRepo from '../../store/repositories/agent-failures.js';
import * as agentsRepo from '../../store/repositories/agents.js';
import * as jobsRepo from '../../store/repositories/jobs.js';
import * as tasksRepo from '../../store/repositories/tasks.js';
import * as taskBatches from '../../store/repositories/task-batches.js';
import { isPostgres } from '../../store/dialect.js';
import { MAX_LIST } from '../../store/statement-shapes.js';
import type { Db } from '../../store/schema.js';
import type { AgentPrincipal } from './agents.js';
import { type ServiceContext, isoIn, nowIso } from './context.js';
import type { FileRef } from './jobs.js';
import { kindOf } from '../kinds/index.js';
import type { JobKindDefinition } from '../kinds/kind.js';
import type { LeasedTask } from '../../wire/agents.js';

// What an agent receives is part of the wire contract.
export type { LeasedTask } from '../../wire/agents.js';

/** Candidates read per lease at least: enough to backfill around tasks too big for the agent. */
const CANDIDATE_WINDOW = 256;

export interface Lease {
  tasks: LeasedTask[];
  /** PostgreSQL: candidates this lease locked but did not take (other leasers skipped them). */
  leftLockedCandidates: boolean;
  /** Tasks of a step that follows another were queued because this lease started that step's last task. */
  queuedFollowing?: boolean;
}

/**
 * One agent's request for work: up to `maxTasks` tasks that fit in `freeCores` together, and up to
 * `prefetch` more to hold, each fitting the agent, to start the moment a slot frees. `holding` is
 * how many tasks the agent holds already (running or waiting to start, not counting any it reports
 * in the same request): prefetch fills the agent's hold up to its share of the queue.
 */
export interface LeaseRequest {
  agent: AgentPrincipal;
  freeCores: number;
  maxTasks: number;
  prefetch?: number;
  holding?: number;
}

/**
 * What one pick from the candidate window serves: a lease request, or the prefetch granted to one
 * (then `largest` caps each task's cores: prefetched tasks run one after another).
 */
interface PickRequest extends LeaseRequest {
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
export async function leaseForMany(ctx: ServiceContext, trx: Db, asks: readonly LeaseRequest[]): Promise<Lease[]> {
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
    const leases: Lease[] = asks.map(() => ({ tasks: [], leftLockedCandidates: false }));
    open.forEach((i, k) => (leases[i] = got[k]!));
    return leases;
  }
  return leaseOpen(ctx, trx, asks);
}

/** leaseForMany for agents that may take work (none paused). */
async function leaseOpen(ctx: ServiceContext, trx: Db, asks: readonly LeaseRequest[]): Promise<Lease[]> {
  // Prefetch is served after every agent asking for work it can start now: each gets its share
  // (core/prefetch-shares.ts), of the queue counted only as far as can matter.
  if (!asks.some(prefetches)) return leaseFitting(ctx, trx, asks);
  const online = await onlineAgents(ctx, trx);
  const queuedCounted = await tasksRepo.countQueuedUpTo(trx, queuedCountCap(asks, online));
  const extra = prefetchShares(asks, online, queuedCounted).map(({ index, tasks }) => {
    const agent = asks[index]!.agent;
    return { i: index, ask: { agent, freeCores: tasks * agent.slots, maxTasks: tasks, largest: agent.slots } satisfies PickRequest };
  });
  // One pass for both: the asks for now first, then the prefetch.
  const got = await leaseFitting(ctx, trx, [...asks, ...extra.map((e) => e.ask)], asks.length);
  const leases = got.slice(0, asks.length);
  extra.forEach(({ i }, k) => {
    const more = got[asks.length + k]!;
    leases[i] = { tasks: [...leases[i]!.tasks, ...more.tasks], leftLockedCandidates: leases[i]!.leftLockedCandidates || more.leftLockedCandidates, queuedFollowing: !!(leases[i]!.queuedFollowing || more.queuedFollowing) };
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
async function leaseFitting(ctx: ServiceContext, trx: Db, asks: readonly PickRequest[], firstRound = asks.length): Promise<Lease[]> {
  const leases: Lease[] = asks.map(() => ({ tasks: [], leftLockedCandidates: false }));
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
    const got = await leaseFromWindow(ctx, trx, shared.map((i) => asks[i]!));
    shared.forEach((i, k) => (leases[i] = got[k]!));
  }
  for (const i of alone) {
    const ask = asks[i]!;
    leases[i] = (await leaseFromWindow(ctx, trx, [ask], { agentId: ask.agent.id, limit }))[0]!;
  }
  return leases;
}

async function leaseFromWindow(ctx: ServiceContext, trx: Db, asks: readonly PickRequest[], blocked?: { agentId: string; limit: number }): Promise<Lease[]> {
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
  // Requirements met by none of these asks, among those earlier leases read: not even read this time.
  const unmet = [...requirementsCache.keys()].filter(noAskerMeets);
  const candidates = await tasksRepo.queuedCandidates(trx, asks.map((a) => a.freeCores), Math.max(CANDIDATE_WINDOW, wanted), blocked, skipSteps, noAskerMeets, room, unmet);
  // The candidates are this lease's own rows: named for fitTasks in place, not copied.
  const pool = await fairOrder(trx, candidates.map((c) => Object.assign(c, { taskId: c.id })));
  // A task that failed goes to an agent it has not failed on, while one that may run it is online.
  const placement = await retryPlacement(trx, pool, ctx.config.agentFailureLimit);
  // Jobs' own requirements (--memory, --gpus, --require), parsed once per job of the window.
  const jobReqs = new Map<string, JobRequirements>();
  for (const c of pool) if (c.requirements && !jobReqs.has(c.job_id)) jobReqs.set(c.job_id, JSON.parse(c.requirements) as JobRequirements);
  const meets = (ask: PickRequest, c: (typeof pool)[number]) => {
    const own = jobReqs.get(c.job_id);
    if (own && requirementMiss(own, ask.agent.host) !== null) return false;
    const req = requirements.get(c.job_id)?.[c.step];
    return !req || hostRequirementProblem(req, ask.agent.host) === null;
  };
  // Each ask takes from the front of what is left: skip the taken prefix instead of copying the
  // rest for every ask (a group of hundreds of asks over a window of thousands was quadratic).
  const taken = new Set<(typeof pool)[number]>();
  let head = 0;
  function* left(ask: PickRequest) {
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
  if (all.length === 0) return asks.map(() => ({ tasks: [], leftLockedCandidates: false }));
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
      // The row as markLeased left it, updated in place (it is this lease's own).
      const task = Object.assign(before, { status: 'running' as const, agent_id: asks[k]!.agent.id, attempt: before.attempt + 1, tries: before.tries + 1, lease_expires_at: expires, started_at: now, finished_at: null, exit_code: null, error: null, progress: null, message: null });
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
    leases.push({ tasks: out, leftLockedCandidates: false });
  }
  // PostgreSQL: candidates locked here but left untaken were skipped by concurrent leasers.
  if (taken.size < pool.length && isPostgres(trx)) leases[leases.length - 1]!.leftLockedCandidates = true;
  // A render's preview follows its chunks: it is queued when the last of them starts.
  for (const job of jobs.values()) if (job.kind.steps && (await advanceFollowingSteps(trx, job.row.id)) > 0) leases[leases.length - 1]!.queuedFollowing = true;
  return leases;
}

/** After a lease committed: the events it makes. */
export function announceLease(ctx: ServiceContext, lease: Lease): void {
  for (const t of lease.tasks) ctx.bus.emit('task', t.taskId, t.jobId);
  for (const jobId of new Set(lease.tasks.map((t) => t.jobId))) ctx.bus.emit('job', jobId);
  // PostgreSQL: concurrent leasers skipped the candidates we locked but did not take; wake them to
  // look again (only after progress, so agents that fit nothing cannot wake each other forever).
  // Tasks of a following step were queued by this lease: agents waiting for work may take them.
  if (lease.leftLockedCandidates || lease.queuedFollowing) ctx.bus.emit('work');
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

/** What of a job's requirements the agent applies to each task: the GPUs it hands out and the memory it enforces. */
function requirementsForAgent(text: string | null): Pick<LeasedTask, 'gpus' | 'memoryMiB'> {
  if (!text) return {};
  const req = JSON.parse(text) as JobRequirements;
  return { gpus: req.gpus ?? 0, ...(req.memoryMiB ? { memoryMiB: req.memoryMiB } : {}) };
}

/**
 * Job requirements by their stored text: a farm has few distinct ones. Every lease checks them all
 * against its asks (those none meets are left out of its candidate query), so they are kept to one
 * query list (MAX_LIST); past that the cache starts again, and the next lease reads them anew.
 */
const requirementsCache = new Map<string, JobRequirements>();
function parsedRequirements(text: string): JobRequirements {
  let req = requirementsCache.get(text);
  if (!req) {
    if (requirementsCache.size >= MAX_LIST) requirementsCache.clear();
    req = JSON.parse(text) as JobRequirements;
    requirementsCache.set(text, req);
  }
  return req;
}
