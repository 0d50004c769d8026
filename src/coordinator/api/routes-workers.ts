// The farm's agents as people see them.
import type { FastifyInstance } from 'fastify';
import * as agentsRepo from '../../store/repositories/agents.js';
import * as tasksRepo from '../../store/repositories/tasks.js';
import type { ServiceContext } from '../services/context.js';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { agentView, labelAgent, removeAgent, setAgentPaused } from '../services/agent-admin.js';
import { parseRequirement } from '../../core/job-requirements.js';
import { badRequest } from '../errors.js';
import { requireAdmin, requireUser } from './principal.js';

const LabelsBody = Type.Object({ labels: Type.Record(Type.String({ minLength: 1, maxLength: 63 }), Type.String({ maxLength: 200 }), { description: 'an empty value removes the label' }) }, { additionalProperties: false });
const WorkerNameParams = Type.Object({ name: Type.String({ minLength: 1, maxLength: 200 }) }, { additionalProperties: false });

export function workerRoutes(app: FastifyInstance, ctx: ServiceContext): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  for (const [action, paused] of [
    ['pause', true],
    ['resume', false],
  ] as const) {
    r.post(`/workers/:name/${action}`, { schema: { params: WorkerNameParams, tags: ['workers'] } }, async (request) => {
      requireAdmin(request);
      await setAgentPaused(ctx, request.params.name, paused);
      return { name: request.params.name, paused };
    });
  }
  r.post('/workers/:name/labels', { schema: { params: WorkerNameParams, body: LabelsBody, tags: ['workers'] } }, async (request) => {
    requireAdmin(request);
    for (const key of Object.keys(request.body.labels)) {
      const parsed = parseRequirement(`${key}=x`);
      if ('problem' in parsed) throw badRequest(parsed.problem.replace('--require', 'label'));
    }
    return { name: request.params.name, labels: await labelAgent(ctx, request.params.name, request.body.labels) };
  });
  r.delete('/workers/:name', { schema: { params: WorkerNameParams, tags: ['workers'] } }, async (request, reply) => {
    requireAdmin(request);
    await removeAgent(ctx, request.params.name);
    return reply.code(204).send();
  });
  r.get('/workers/:name', { schema: { params: WorkerNameParams, tags: ['workers'] } }, async (request) => {
    const user = requireUser(request);
    const { row, attempts } = await agentView(ctx, request.params.name);
    const own = user.admin ? null : new Set((await ctx.db.selectFrom('jobs').select('id').where('user_id', '=', user.id).execute()).map((j) => j.id));
    return {
      name: row.name,
      status: row.status,
      paused: row.paused === 1,
      slots: row.slots,
      cores: row.cores,
      memoryBytes: Number(row.memory_bytes),
      labels: JSON.parse(row.labels) as Record<string, string>,
      lastSeenAt: row.last_seen_at,
      // Recent attempts, newest first; another user's job is not named.
      recentTasks: attempts.map((a) => {
        const visible = own === null || own.has(a.job_id);
        return { taskId: visible ? a.task_id : null, jobId: visible ? a.job_id : null, index: visible ? a.idx : null, attempt: a.attempt, status: a.status, startedAt: a.started_at, finishedAt: a.finished_at, error: visible ? a.error : null };
      }),
    };
  });

  app.get('/workers', { schema: { tags: ['workers'] } }, async (request) => {
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
        id: a.id,
        name: a.name,
        status: a.status,
        paused: a.paused === 1,
        cores: a.cores,
        memoryBytes: Number(a.memory_bytes),
        labels: JSON.parse(a.labels) as Record<string, string>,
        slots: a.slots,
        sandbox: a.sandbox === 1,
        version: a.version,
        lastSeenAt: a.last_seen_at,
        runningTasks: running
          .filter((t) => t.agent_id === a.id)
          .map((t) => (visibleJobs === null || visibleJobs.has(t.job_id) ? { id: t.id, jobId: t.job_id, index: t.idx } : { id: null, jobId: null, index: null })),
      })),
    };
  });
}
