// The farm's agents as people see them.
import type { FastifyInstance } from 'fastify';
import * as agentsRepo from '../../store/repositories/agents.js';
import * as tasksRepo from '../../store/repositories/tasks.js';
import type { ServiceContext } from '../services/context.js';
import { requireUser } from './principal.js';

export function workerRoutes(app: FastifyInstance, ctx: ServiceContext): void {
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
