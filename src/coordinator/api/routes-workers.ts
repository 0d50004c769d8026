// The farm's agents as people see them.
import type { FastifyInstance } from 'fastify';
import * as agentsRepo from '../../store/repositories/agents.js';
import * as tasksRepo from '../../store/repositories/tasks.js';
import type { ServiceContext } from '../services/context.js';
import { requireAdmin, requireUser } from './principal.js';
import { audit } from '../services/audit.js';
import { agentByIdOrName, labelAgent, removeAgent, setAgentPaused } from '../services/agent-admin.js';
import { parseRequirement } from '../../core/job-requirements.js';
import { badRequest } from '../errors.js';
import { INSTANCE_GPUS, INSTANCE_TYPES } from '../../core/instance-types.js';
import { hostFactsOf } from '../../core/templates/host-match.js';
import { type AgentStatus, LabelsBody, WorkerDetail, WorkerLabels, WorkerList, WorkerParams, WorkerPaused } from '../../wire/workers.js';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';

/** Attempts listed on an agent's page. */
const RECENT = 50;

export function workerRoutes(app: FastifyInstance, ctx: ServiceContext): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  for (const [action, paused] of [
    ['pause', true],
    ['resume', false],
  ] as const) {
    r.post(`/workers/:id/${action}`, { schema: { params: WorkerParams, response: { 200: WorkerPaused }, tags: ['workers'] } }, async (request) => {
      const admin = requireAdmin(request);
      await setAgentPaused(ctx, request.params.id, paused);
      await audit(ctx, admin, paused ? 'worker.pause' : 'worker.resume', request.params.id);
      return { name: request.params.id, paused };
    });
  }
  r.post('/workers/:id/labels', { schema: { params: WorkerParams, body: LabelsBody, response: { 200: WorkerLabels }, tags: ['workers'] } }, async (request) => {
    const admin = requireAdmin(request);
    for (const key of Object.keys(request.body.labels)) {
      const parsed = parseRequirement(`${key}=x`);
      if ('problem' in parsed) throw badRequest(parsed.problem.replace('--require', 'label'));
    }
    const labels = await labelAgent(ctx, request.params.id, request.body.labels);
    await audit(ctx, admin, 'worker.label', request.params.id, { labels: request.body.labels });
    return { name: request.params.id, labels };
  });
  r.delete('/workers/:id', { schema: { params: WorkerParams, tags: ['workers'] } }, async (request, reply) => {
    const admin = requireAdmin(request);
    await removeAgent(ctx, request.params.id);
    await audit(ctx, admin, 'worker.remove', request.params.id);
    return reply.code(204).send();
  });
  r.get('/workers', { schema: { response: { 200: WorkerList }, tags: ['workers'] } }, async (request) => {
    const user = requireUser(request);
    const [agents, running] = await Promise.all([agentsRepo.listAgents(ctx.db), tasksRepo.runningTasksOfAgents(ctx.db)]);
    // Users see which agents are busy; only an admin (or the owner) sees which jobs they run.
    const visibleJobs = user.admin
      ? null
      : new Set((await ctx.db.selectFrom('jobs').select('id').where('user_id', '=', user.id).where('status', '=', 'running').execute()).map((j) => j.id));
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
  });

  // One agent: what it can run, its latest attempts and failures (users: of their own jobs).
  r.get('/workers/:id', { schema: { params: WorkerParams, response: { 200: WorkerDetail }, tags: ['workers'] } }, async (request) => {
    const user = requireUser(request);
    const agent = await agentByIdOrName(ctx, request.params.id);
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
  });
}

function workerFacts(a: agentsRepo.AgentRow) {
  return {
        id: a.id,
        name: a.name,
        status: a.status as AgentStatus,
        paused: a.paused === 1,
        cores: a.cores,
        memoryBytes: Number(a.memory_bytes),
        labels: JSON.parse(a.labels) as Record<string, string>,
        slots: a.slots,
        sandbox: a.sandbox === 1,
        // What it holds host tasks to; null for an agent too old to say.
        limits: (JSON.parse(a.limits || '{}') as { how?: string }).how ? (JSON.parse(a.limits) as { memory: boolean; processes: boolean; how: string }) : null,
        version: a.version,
        lastSeenAt: a.last_seen_at,
  };
}
