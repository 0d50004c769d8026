// Jobs, their tasks, results and live events, for their owner (and admins).
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { notFound } from '../errors.js';
import type { ServiceContext } from '../services/context.js';
import { jobFor, jobViewFor, retryJob, setJobPriority, startJob, stopJob } from '../services/jobs.js';
import { resultsIndex, resultsZip } from '../services/results.js';
import { requireUser } from './principal.js';
import { CreateJobBody, JobActionResults, JobActionsBody, JobDeleted, JobFileParams, JobIdParams, JobList, JobListQuery, JobPatchBody, JobView, ResultsIndex, TaskActionAnswer, TaskListQuery, TaskPage, TaskSelectionBody, TemplateCheckAnswer, TemplateCheckBody } from '../../wire/index.js';
import { createJob } from '../kinds/index.js';
import { checkTemplateRequest } from '../kinds/template/template-jobs.js';
import { openSse } from './sse.js';
import { jobCreationRate } from '../services/large-jobs.js';
import { audit } from '../services/audit.js';
import { archiveJob, unarchiveJob } from '../services/job-archive.js';
import { actOnJobs } from '../services/bulk-actions.js';
import { deleteJob } from '../services/job-deletion.js';
import { retryTasks, stopTasks } from '../services/task-control.js';
import { listJobsFor } from '../services/job-list.js';
import { assertJobFile, taskPageOf } from '../services/job-tasks.js';
import { currentJobView, jobHasEnded, listedTaskViews, ownerNameOf } from '../services/job-events.js';

export function jobRoutes(app: FastifyInstance, ctx: ServiceContext): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.post('/jobs', { schema: { body: CreateJobBody, response: { 201: JobView }, tags: ['jobs'] } }, async (request, reply) => {
    const user = requireUser(request);
    jobCreationRate(ctx).take(user);
    const body = request.body;
    const id = await createJob(ctx, user, body);
    const view = await jobViewFor(ctx, user, id);
    await audit(ctx, user, 'job.create', id, { name: view.name, kind: view.kind, tasks: view.taskCount });
    return reply.code(201).send(view);
  });

  r.post('/templates/check', { schema: { body: TemplateCheckBody, response: { 200: TemplateCheckAnswer }, tags: ['jobs'] } }, async (request) => {
    requireUser(request);
    return checkTemplateRequest(ctx, request.body);
  });

  r.get('/jobs', { schema: { querystring: JobListQuery, response: { 200: JobList }, tags: ['jobs'] } }, async (request) => {
    return listJobsFor(ctx, requireUser(request), request.query);
  });

  r.get('/jobs/:id', { schema: { params: JobIdParams, response: { 200: JobView }, tags: ['jobs'] } }, async (request) => jobViewFor(ctx, requireUser(request), request.params.id));

  r.patch('/jobs/:id', { schema: { params: JobIdParams, body: JobPatchBody, response: { 200: JobView }, tags: ['jobs'] } }, async (request) => {
    const user = requireUser(request);
    await setJobPriority(ctx, user, request.params.id, request.body.priority);
    await audit(ctx, user, 'job.set', request.params.id, { priority: request.body.priority });
    return jobViewFor(ctx, user, request.params.id);
  });

  for (const [action, run] of [
    ['start', startJob],
    ['stop', stopJob],
    ['retry', retryJob],
    ['archive', archiveJob],
    ['unarchive', unarchiveJob],
  ] as const) {
    r.post(`/jobs/:id/${action}`, { schema: { params: JobIdParams, response: { 200: JobView }, tags: ['jobs'] } }, async (request) => {
      const user = requireUser(request);
      await run(ctx, user, request.params.id);
      await audit(ctx, user, `job.${action}`, request.params.id);
      return jobViewFor(ctx, user, request.params.id);
    });
  }

  // The job and everything it made; the files no other job uses are collected right after.
  r.delete('/jobs/:id', { schema: { params: JobIdParams, response: { 200: JobDeleted }, tags: ['jobs'] } }, async (request) => {
    const user = requireUser(request);
    await deleteJob(ctx, user, request.params.id);
    await audit(ctx, user, 'job.delete', request.params.id);
    return { id: request.params.id, deleted: true as const };
  });

  // Some tasks of one job: only those are canceled or requeued (done ones too), the rest untouched.
  for (const [action, run] of [
    ['stop', stopTasks],
    ['retry', retryTasks],
  ] as const) {
    r.post(`/jobs/:id/tasks/${action}`, { schema: { params: JobIdParams, body: TaskSelectionBody, response: { 200: TaskActionAnswer }, tags: ['jobs'] } }, async (request) => {
      const user = requireUser(request);
      const tasks = await run(ctx, user, request.params.id, request.body);
      await audit(ctx, user, `job.${action}`, request.params.id, { ...request.body });
      return { job: await jobViewFor(ctx, user, request.params.id), tasks };
    });
  }

  // Each job answered on its own (ok, its status afterwards, or why not): one refused job stops no other.
  r.post('/jobs/actions', { schema: { body: JobActionsBody, response: { 200: JobActionResults }, tags: ['jobs'] } }, async (request) => {
    const user = requireUser(request);
    const results = await actOnJobs(ctx, user, request.body.action, request.body.ids);
    for (const done of results.filter((r) => r.ok)) await audit(ctx, user, `job.${request.body.action}`, done.id);
    return { action: request.body.action, results };
  });

  r.get('/jobs/:id/tasks', { schema: { params: JobIdParams, querystring: TaskListQuery, response: { 200: TaskPage }, tags: ['jobs'] } }, async (request) => {
    const job = await jobFor(ctx, requireUser(request), request.params.id);
    return taskPageOf(ctx, job, request.query);
  });

  r.get('/jobs/:id/results', { schema: { params: JobIdParams, response: { 200: ResultsIndex }, tags: ['results'] } }, async (request) => {
    const job = await jobFor(ctx, requireUser(request), request.params.id);
    return resultsIndex(ctx, job);
  });

  r.get('/jobs/:id/results.zip', { schema: { params: JobIdParams, tags: ['results'] } }, async (request, reply) => {
    const job = await jobFor(ctx, requireUser(request), request.params.id);
    const index = await resultsIndex(ctx, job);
    reply.header('content-type', 'application/zip');
    reply.header('content-disposition', `attachment; filename="${job.id}.zip"`);
    return reply.send(resultsZip(ctx, index));
  });

  r.get('/jobs/:id/files/:sha256', { schema: { params: JobFileParams, tags: ['results'] } }, async (request, reply) => {
    const job = await jobFor(ctx, requireUser(request), request.params.id);
    await assertJobFile(ctx, job, request.params.sha256);
    const size = await ctx.blobs.size(request.params.sha256);
    if (size === null) throw notFound(`file ${request.params.sha256}`);
    reply.header('content-type', 'application/octet-stream').header('content-length', size);
    return reply.send(ctx.blobs.read(request.params.sha256));
  });

  r.get('/jobs/:id/events', { schema: { params: JobIdParams, tags: ['jobs'] } }, async (request, reply) => {
    const user = requireUser(request);
    const job = await jobFor(ctx, user, request.params.id);
    const owner = await ownerNameOf(ctx, job);
    const stream = openSse(request, reply);
    stream.send('job', await jobViewFor(ctx, user, job.id));
    // Coalesce bursts: at most one job view every 250 ms, each changed task once per flush. A change
    // after a quiet spell goes out at once, and so does the end of the job.
    const dirtyTasks = new Set<string>();
    let jobDirty = false;
    let timer: NodeJS.Timeout | null = null;
    let lastFlush = 0;
    const flush = async () => {
      timer = null;
      lastFlush = Date.now();
      const tasks = [...dirtyTasks];
      dirtyTasks.clear();
      // As GET /jobs/:id/tasks lists them: the render preview's task is shown in the job view instead.
      for (const view of await listedTaskViews(ctx, job, tasks)) stream.send('task', view);
      if (jobDirty) {
        jobDirty = false;
        const current = await currentJobView(ctx, job.id, owner);
        if (current) stream.send('job', current);
      }
    };
    // Flushes run one after another, so views go out in the order they were read.
    let flushing = Promise.resolve();
    const flushNow = () => {
      if (timer) clearTimeout(timer);
      timer = null;
      flushing = flushing.then(flush).catch(() => stream.close());
    };
    const schedule = () => {
      if (!timer && !stream.closed) timer = setTimeout(flushNow, Math.max(0, lastFlush + 250 - Date.now()));
    };
    const offJob = ctx.bus.on('job', (id) => {
      if (id === job.id) {
        jobDirty = true;
        schedule();
        // The job has ended: say so at once (a CLI waiting on it exits), not at the next tick of 250 ms.
        void jobHasEnded(ctx, job.id).then((ended) => {
          if (ended && timer) flushNow();
        }, () => undefined);
      }
    });
    const offTask = ctx.bus.on('task', (taskId, jobId) => {
      if (jobId === job.id) {
        dirtyTasks.add(taskId);
        jobDirty = true;
        schedule();
      }
    });
    stream.onClose(() => {
      offJob();
      offTask();
      if (timer) clearTimeout(timer);
    });
  });
}
