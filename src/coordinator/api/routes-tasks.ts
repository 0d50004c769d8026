// One task: its attempts and its logs, read back or followed live.
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { isTerminalTask } from '../../core/states.js';
import type { ServiceContext } from '../services/context.js';
import { jobFor } from '../services/jobs.js';
import { readTaskLogs } from '../services/task-logs.js';
import { currentTaskView, taskDetail, taskFor } from '../services/task-detail.js';
import { requireUser } from './principal.js';
import { LogPage, LogQuery, TaskDetail, TaskIdParams } from '../../wire/index.js';
import { openSse } from './sse.js';

export function taskRoutes(app: FastifyInstance, ctx: ServiceContext): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.get('/tasks/:id', { schema: { params: TaskIdParams, response: { 200: TaskDetail }, tags: ['tasks'] } }, async (request) => {
    const task = await taskFor(ctx, requireUser(request), request.params.id);
    return taskDetail(ctx, task);
  });

  r.get('/tasks/:id/logs', { schema: { params: TaskIdParams, querystring: LogQuery, response: { 200: LogPage }, tags: ['tasks'] } }, async (request) => {
    const task = await taskFor(ctx, requireUser(request), request.params.id);
    const q = request.query;
    return { entries: await readTaskLogs(ctx, task.id, { ...(q.attempt ? { attempt: q.attempt } : {}), ...(q.after !== undefined ? { after: q.after } : {}), ...(q.limit ? { limit: q.limit } : {}) }) };
  });

  r.get('/tasks/:id/logs/stream', { schema: { params: TaskIdParams, querystring: LogQuery, tags: ['tasks'] } }, async (request, reply) => {
    const user = requireUser(request);
    const task = await taskFor(ctx, user, request.params.id);
    await jobFor(ctx, user, task.job_id);
    const attempt = request.query.attempt;
    const lastEventId = Number(request.headers['last-event-id']);
    let after = Number.isFinite(lastEventId) ? lastEventId : (request.query.after ?? 0);
    const stream = openSse(request, reply);
    const pending: { seq: number; attempt: number; stream: string; data: string; time: string }[] = [];
    let replaying = true;
    const offLog = ctx.bus.on('log', (e) => {
      if (e.taskId !== task.id || (attempt && e.attempt !== attempt)) return;
      if (replaying) pending.push(e);
      else if (e.seq > after) {
        after = e.seq;
        stream.send('log', { seq: e.seq, attempt: e.attempt, stream: e.stream, data: e.data, time: e.time }, e.seq);
      }
    });
    const sendTaskAndMaybeEnd = async () => {
      const row = await currentTaskView(ctx, task);
      if (!row) return;
      stream.send('task', row);
      if (isTerminalTask(row.status)) {
        // Logs the agent sent before completing are stored already; send any left, then end.
        for (const e of await readTaskLogs(ctx, task.id, { ...(attempt ? { attempt } : {}), after })) {
          after = e.seq;
          stream.send('log', e, e.seq);
        }
        stream.send('end', { status: row.status });
        stream.close();
      }
    };
    const offTask = ctx.bus.on('task', (taskId) => {
      if (taskId === task.id) void sendTaskAndMaybeEnd().catch(() => stream.close());
    });
    stream.onClose(() => {
      offLog();
      offTask();
    });
    // Replay what is stored, then what arrived meanwhile, then go live.
    for (;;) {
      const batch = await readTaskLogs(ctx, task.id, { ...(attempt ? { attempt } : {}), after, limit: 5000 });
      for (const e of batch) {
        after = e.seq;
        stream.send('log', e, e.seq);
      }
      if (batch.length < 5000) break;
    }
    replaying = false;
    for (const e of pending) {
      if (e.seq > after) {
        after = e.seq;
        stream.send('log', e, e.seq);
      }
    }
    await sendTaskAndMaybeEnd();
  });
}
