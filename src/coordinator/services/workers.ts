// The farm's agents as people see them (the Workers page, `drover worker list`): what each can run,
// what runs on it and, for an admin or the job's owner, which jobs those tasks are of.
import { INSTANCE_GPUS, INSTANCE_TYPES } from '../../core/instance-types.js';
import { hostFactsOf } from '../../core/templates/host-match.js';
import { agentLimitsOf, labelsOf } from '../../store/json-columns.js';
import * as agentsRepo from '../../store/repositories/agents.js';
import * as jobsRepo from '../../store/repositories/jobs.js';
import * as tasksRepo from '../../store/repositories/tasks.js';
import type { WorkerDetail, WorkerList } from '../../wire/workers.js';
import type { UserPrincipal } from './accounts.js';
import { agentByIdOrName } from './agent-admin.js';
import type { ServiceContext } from './context.js';

/** Attempts listed on an agent's page. */
const RECENT = 50;

/** Every agent with the tasks it runs; users see which agents are busy, but the jobs only of their own tasks. */
export async function workerList(ctx: ServiceContext, user: UserPrincipal): Promise<WorkerList> {
  const [agents, running] = await Promise.all([agentsRepo.listAgents(ctx.db), tasksRepo.runningTasksOfAgents(ctx.db)]);
  // Users see which agents are busy; only an admin (or the owner) sees which jobs they run.
  const visibleJobs = user.admin ? null : await jobsRepo.runningJobIdsOf(ctx.db, user.id);
  return {
    /** The farm's setting: `deny` keeps every task off the network, whatever its job asks. */
    taskNetwork: ctx.config.taskNetwork,
    workers: agents.map((a) => ({
      ...workerFacts(a),
      runningTasks: running
        .filter((t) => t.agent_id === a.id)
        .map((t) => {
          // Uploading: its work is over, its cores free for the agent's next task.
          const uploading = t.attempt_status === 'uploading';
          return visibleJobs === null || visibleJobs.has(t.job_id)
            ? { id: t.id, jobId: t.job_id, index: t.idx, cores: t.cores, uploading }
            : { id: null, jobId: null, index: null, cores: t.cores, uploading };
        }),
    })),
  };
}

/** One agent: what it can run, its latest attempts and failures (users: of their own jobs). */
export async function workerDetail(ctx: ServiceContext, user: UserPrincipal, idOrName: string): Promise<WorkerDetail> {
  const agent = await agentByIdOrName(ctx, idOrName);
  const owner = user.admin ? null : user.id;
  const [recent, blocking, running] = await Promise.all([
    agentsRepo.recentAttemptsOfAgent(ctx.db, agent.id, RECENT, owner),
    agentsRepo.jobsBlockingAgent(ctx.db, agent.id, ctx.config.agentFailureLimit, owner),
    tasksRepo.runningTasksOfAgents(ctx.db),
  ]);
  return {
    ...workerFacts(agent),
    runningTasks: running.filter((t) => t.agent_id === agent.id && t.attempt_status !== 'uploading').length,
    runningCores: running.filter((t) => t.agent_id === agent.id && t.attempt_status !== 'uploading').reduce((sum, t) => sum + t.cores, 0),
    uploadingTasks: running.filter((t) => t.agent_id === agent.id && t.attempt_status === 'uploading').length,
    // Instance sizes: a task of one runs here when its cores fit the agent's slots (and its GPUs the agent's).
    canRun: INSTANCE_TYPES.map((type) => ({
      instanceType: type,
      cores: ctx.config.instanceCores[type],
      fits: ctx.config.instanceCores[type] <= agent.slots && INSTANCE_GPUS[type] <= hostFactsOf(agent).gpus,
    })),
    recent: recent.map((a) => ({
      taskId: a.task_id,
      jobId: a.job_id,
      jobName: a.job_name,
      index: a.idx,
      attempt: a.attempt,
      status: a.status,
      startedAt: a.started_at,
      finishedAt: a.finished_at,
      exitCode: a.exit_code,
      error: a.error,
    })),
    blockedBy: blocking.map((j) => ({ jobId: j.id, jobName: j.name, failures: j.failures })),
  };
}

function workerFacts(a: agentsRepo.AgentRow) {
  return {
    id: a.id,
    name: a.name,
    status: a.status,
    paused: a.paused === 1,
    cores: a.cores,
    memoryBytes: Number(a.memory_bytes),
    labels: labelsOf(a.labels),
    slots: a.slots,
    sandbox: a.sandbox === 1,
    // What it holds host tasks to; null for an agent too old to say.
    limits: agentLimitsOf(a),
    version: a.version,
    lastSeenAt: a.last_seen_at,
  };
}
