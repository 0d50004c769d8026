// The farm's agents as people see them.
import type { FastifyInstance } from 'fastify';
import type { ServiceContext } from '../services/context.js';
import { requireAdmin, requireUser } from './principal.js';
import { audit } from '../services/audit.js';
import { labelAgent, removeAgent, setAgentPaused } from '../services/agent-admin.js';
import { workerDetail, workerList } from '../services/workers.js';
import { parseRequirement } from '../../core/job-requirements.js';
import { badRequest } from '../errors.js';
import { LabelsBody, WorkerDetail, WorkerLabels, WorkerList, WorkerParams, WorkerPaused } from '../../wire/workers.js';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';

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
  r.get('/workers', { schema: { response: { 200: WorkerList }, tags: ['workers'] } }, async (request) => workerList(ctx, requireUser(request)));

  // One agent: what it can run, its latest attempts and failures (users: of their own jobs).
  r.get('/workers/:id', { schema: { params: WorkerParams, response: { 200: WorkerDetail }, tags: ['workers'] } }, async (request) => workerDetail(ctx, requireUser(request), request.params.id));
}
