// The agent protocol: join, lease (long-polling), heartbeat, logs, completion and release.
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { unauthorized } from '../errors.js';
import { heartbeat, registerAgent } from '../services/agents.js';
import type { ServiceContext } from '../services/context.js';
import { completeTask, releaseTask } from '../services/completion.js';
import { completeTasks, leaseTasks } from '../services/dispatch.js';
import { appendTaskLogs } from '../services/task-logs.js';
import { requireAgent } from './principal.js';
import { heldToGiveBack } from '../services/urgent-yield.js';
import {
  CompleteAnswer,
  CompleteBatchAnswer,
  CompleteBatchBody,
  CompleteBody,
  HeartbeatAnswer,
  HeartbeatBody,
  JobIdParams,
  JoinAnswer,
  LeaseAnswer,
  LeaseBody,
  LogsBody,
  RegisterAgentBody,
  ReleaseAnswer,
  ReleaseBody,
  StepInputsAnswer,
  StepInputsQuery,
  TaskIdParams,
  TaskStatusBody,
} from '../../wire/index.js';
import { reportTaskStatus, stepInputs } from '../kinds/template/template-jobs.js';

export function agentRoutes(app: FastifyInstance, ctx: ServiceContext, joinToken: string): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  // Set when the coordinator shuts down: waiting lease requests answer at once instead of holding it up.
  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    ctx.bus.emit('work');
    done();
  });

  r.post('/agents/register', { schema: { body: RegisterAgentBody, response: { 200: JoinAnswer }, tags: ['agents'] } }, async (request) => {
    if (!request.bearer) throw unauthorized('send the agent join token as a Bearer token');
    const { previousToken, ...resources } = request.body;
    const result = await registerAgent(ctx, request.bearer, joinToken, resources, previousToken);
    ctx.bus.emit('work');
    return { ...result, leaseSeconds: ctx.config.leaseSeconds, heartbeatSeconds: Math.max(0.5, ctx.config.leaseSeconds / 4) };
  });

  r.post('/agent/lease', { schema: { body: LeaseBody, response: { 200: LeaseAnswer }, tags: ['agents'] } }, async (request, reply) => {
    const agent = requireAgent(request);
    // The agent hung up. Not `request.raw`: a request whose body has been read is already closed
    // and destroyed (Node >= 16), which ended every long-poll at once (agents then polled in a loop).
    let gone = false;
    const onGone = () => (gone = true);
    reply.raw.once('close', onGone);
    const { freeCores, maxTasks = 1000, prefetch = 0, holding = 0, waitSeconds = 0 } = request.body;
    const wish = { freeCores, maxTasks, prefetch, holding };
    // Work announced while a lease looks (a job started meanwhile, or on PostgreSQL another
    // replica's leaser holding the candidates) must not be slept through: listen from the start.
    let announced = false;
    const offAnnounced = waitSeconds > 0 ? ctx.bus.on('work', () => (announced = true)) : () => {};
    try {
      let tasks = await leaseTasks(ctx, agent, wish);
      if (tasks.length > 0 || waitSeconds === 0) return { tasks };
      // Long-poll: wait for work to appear (a new job, a requeue) instead of polling in a loop.
      const deadline = Date.now() + waitSeconds * 1000;
      while (tasks.length === 0 && Date.now() < deadline && !gone && !closing) {
        await new Promise<void>((resolve) => {
          if (announced) return resolve();
          const timer = setTimeout(done, deadline - Date.now());
          const off = ctx.bus.on('work', done);
          reply.raw.once('close', done);
          function done() {
            clearTimeout(timer);
            off();
            reply.raw.off('close', done);
            resolve();
          }
        });
        announced = false;
        if (gone || closing) break;
        tasks = await leaseTasks(ctx, agent, wish);
      }
      return { tasks };
    } finally {
      offAnnounced();
      reply.raw.off('close', onGone);
    }
  });

  r.post('/agent/heartbeat', { schema: { body: HeartbeatBody, response: { 200: HeartbeatAnswer }, tags: ['agents'] } }, async (request) => {
    const agent = requireAgent(request);
    const answer = await heartbeat(ctx, agent, request.body.tasks, request.body.draining ?? false, request.body.jobs ?? []);
    return { ...answer, giveBack: await heldToGiveBack(ctx.db, agent, request.body.held ?? []) };
  });

  r.post('/agent/tasks/:id/logs', { schema: { params: TaskIdParams, body: LogsBody, tags: ['agents'] } }, async (request, reply) => {
    await appendTaskLogs(ctx, requireAgent(request), request.params.id, request.body.attempt, request.body.chunks);
    return reply.code(204).send();
  });

  r.post('/agent/tasks/:id/complete', { schema: { params: TaskIdParams, body: CompleteBody, response: { 200: CompleteAnswer }, tags: ['agents'] } }, async (request) => {
    const { error, ...rest } = request.body;
    await completeTask(ctx, requireAgent(request), request.params.id, { ...rest, ...(error !== undefined ? { error } : {}) });
    return { accepted: true as const };
  });

  // Batches: results of many tasks in one request, and (with `lease`) the next tasks in its answer.
  r.post('/agent/complete', { schema: { body: CompleteBatchBody, response: { 200: CompleteBatchAnswer }, tags: ['agents'] } }, async (request) => {
    const agent = requireAgent(request);
    const lease = request.body.lease;
    return completeTasks(
      ctx,
      agent,
      request.body.completions.map(({ error, ...rest }) => ({ ...rest, ...(error !== undefined ? { error } : {}) })),
      lease ? { freeCores: lease.freeCores, maxTasks: lease.maxTasks ?? 1000, prefetch: lease.prefetch ?? 0, holding: lease.holding ?? 0 } : undefined,
    );
  });

  r.post('/agent/tasks/:id/status', { schema: { params: TaskIdParams, body: TaskStatusBody, tags: ['agents'] } }, async (request, reply) => {
    await reportTaskStatus(ctx, requireAgent(request), request.params.id, request.body);
    return reply.code(204).send();
  });

  r.get('/agent/jobs/:id/inputs', { schema: { params: JobIdParams, querystring: StepInputsQuery, response: { 200: StepInputsAnswer }, tags: ['agents'] } }, async (request) => ({
    files: await stepInputs(ctx, requireAgent(request), request.params.id, request.query.step),
  }));

  r.post('/agent/tasks/:id/release', { schema: { params: TaskIdParams, body: ReleaseBody, response: { 200: ReleaseAnswer }, tags: ['agents'] } }, async (request) => {
    await releaseTask(ctx, requireAgent(request), request.params.id, request.body.attempt, request.body.reason);
    return { released: true as const };
  });
}
