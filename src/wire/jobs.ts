// Jobs: the request of each kind, the job view every answer and event shows, lists and actions.
import { Type, type Static } from '@sinclair/typebox';
import { JOB_ACTIONS, MAX_BULK_JOBS } from '../core/job-actions.js';
import { JOB_STATUSES } from '../core/states.js';
import { FileRef, Nullable, Sha256, strict, Time } from './common.js';
import { RenderJobBody, RenderView } from './render.js';
import { InstanceTypeSchema, Priority, Requirements, RunFields } from './scheduling.js';
import { JobStatusSchema, TaskCounts } from './states.js';
import { StepView, TemplateJobBody } from './templates.js';

export const JOB_KINDS = ['script', 'render', 'template'] as const;
export type JobKind = (typeof JOB_KINDS)[number];

export const ScriptJobBody = Type.Object(
  {
    kind: Type.Literal('script'),
    name: Type.String({ minLength: 1, maxLength: 200 }),
    script: FileRef,
    inputs: Type.Array(FileRef, { minItems: 1, maxItems: 100_000 }),
    constants: Type.Optional(Type.Array(FileRef, { maxItems: 1000 })),
    ...RunFields,
    network: Type.Optional(Type.Boolean({ description: 'network access for the tasks; default true (false when the farm denies it: asking then is refused)' })),
    requireResults: Type.Optional(Type.Boolean({ description: 'a task that exits 0 without writing a file to run-result/ fails' })),
    start: Type.Optional(Type.Boolean()),
  },
  strict,
);
export type ScriptJobBody = Static<typeof ScriptJobBody>;

/** POST /jobs takes any kind; `kind` picks the schema, so errors speak of the right one. */
export const CreateJobBody = Type.Unsafe<ScriptJobBody | RenderJobBody | Static<typeof TemplateJobBody>>({
  type: 'object',
  required: ['kind'],
  discriminator: { propertyName: 'kind' },
  oneOf: [ScriptJobBody, RenderJobBody, TemplateJobBody],
});
export type CreateJobBody = Static<typeof CreateJobBody>;

export const JobPatchBody = Type.Object({ priority: Priority }, strict);
export const JobIdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) }, strict);
export const JobFileParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }), sha256: Sha256 }, strict);

/** What the job list sorts by (the store maps each to its column: store/repositories/jobs.ts JOB_SORTS). */
export const JOB_SORT_KEYS = ['name', 'kind', 'status', 'owner', 'size', 'tasks', 'submitted', 'started', 'finished', 'progress', 'duration'] as const;
export type JobSortKey = (typeof JOB_SORT_KEYS)[number];

export const JobListQuery = Type.Object(
  {
    status: Type.Optional(JobStatusSchema),
    q: Type.Optional(Type.String({ maxLength: 200 })),
    owner: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: "only this user's jobs (admins)" })),
    archived: Type.Optional(Type.Boolean({ description: 'archived jobs only (default: only jobs not archived)' })),
    createdBefore: Type.Optional(Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}(T\\d{2}:\\d{2}(:\\d{2}(\\.\\d+)?)?Z)?$', description: 'only jobs submitted before this time (ISO-8601 UTC)' })),
    sort: Type.Optional(Type.Union(JOB_SORT_KEYS.map((s) => Type.Literal(s)))),
    order: Type.Optional(Type.Union([Type.Literal('asc'), Type.Literal('desc')])),
    offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000_000 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })),
  },
  strict,
);

/** One action on many jobs (POST /jobs/actions). */
export const JobActionsBody = Type.Object(
  {
    action: Type.Union(JOB_ACTIONS.map((a) => Type.Literal(a))),
    ids: Type.Array(Type.String({ minLength: 1, maxLength: 100 }), { minItems: 1, maxItems: MAX_BULK_JOBS }),
  },
  strict,
);

/** Which tasks of a job a per-task action chooses (POST /jobs/:id/tasks/stop|retry): one of the two. */
export const TaskSelectionBody = Type.Object(
  {
    tasks: Type.Optional(Type.String({ minLength: 1, maxLength: 10_000, description: 'task numbers as job view shows them: 3, 2,5-9' })),
    frames: Type.Optional(Type.String({ minLength: 1, maxLength: 10_000, description: 'render jobs: the tasks rendering any of these frames (1-10, 5,7)' })),
  },
  strict,
);
export type TaskSelectionBody = Static<typeof TaskSelectionBody>;

/**
 * A job's tasks by state as people read them: `running` are the tasks at work, `uploading` the
 * ones whose work is over and whose results are on their way. Both are the task state `running`;
 * the counts add up to taskCount.
 */
export const JobCounts = Type.Composite([TaskCounts, Type.Object({ uploading: Type.Integer() })]);
export type JobCounts = Static<typeof JobCounts>;

/** A job as every answer, list row and event shows it. */
export const JobView = Type.Object({
  id: Type.String(),
  name: Type.String(),
  kind: Type.Union(JOB_KINDS.map((k) => Type.Literal(k))),
  status: JobStatusSchema,
  owner: Type.String(),
  instanceType: InstanceTypeSchema,
  cores: Type.Integer(),
  maxAttempts: Type.Integer(),
  priority: Type.Integer({ description: '0–100, higher leased first' }),
  after: Type.Array(Type.String(), { description: 'jobs it waits for (`--after`; the job view fills it, lists leave it empty)' }),
  afterAny: Type.Boolean({ description: 'whether any end of the `after` jobs will do' }),
  requirements: Nullable(Requirements),
  taskTimeoutSeconds: Nullable(Type.Integer()),
  image: Nullable(Type.String()),
  network: Type.Boolean({ description: "whether the job's tasks have network access" }),
  requireResults: Type.Boolean({ description: 'script jobs: a task that exits 0 without writing a result file fails' }),
  taskCount: Type.Integer(),
  counts: JobCounts,
  createdAt: Time,
  queuedAt: Nullable(Time),
  startedAt: Nullable(Time),
  finishedAt: Nullable(Time),
  archivedAt: Nullable(Time),
  durationMs: Nullable(Type.Number()),
  cpuSeconds: Nullable(Type.Number()),
  etaSeconds: Nullable(Type.Number()),
  unschedulable: Nullable(Type.String()),
  waiting: Nullable(Type.String({ description: 'created or queued jobs: why their tasks are not running yet, a sentence' })),
  blockedAgents: Type.Array(Type.String(), { description: 'agents that failed too many of its tasks and get no more of them (the job view only)' }),
  render: Type.Optional(RenderView),
  steps: Type.Optional(Type.Array(StepView, { description: 'template jobs (the job view): each step and what it waits for' })),
});
export type JobView = Static<typeof JobView>;

export const JobCountsByStatus = Type.Object(Object.fromEntries(['all', ...JOB_STATUSES].map((s) => [s, Type.Integer()])) as Record<'all' | (typeof JOB_STATUSES)[number], ReturnType<typeof Type.Integer>>);
export type JobCountsByStatus = Static<typeof JobCountsByStatus>;

/** GET /jobs: a page of jobs, how many match, and how many there are in each state. */
export const JobList = Type.Object({ jobs: Type.Array(JobView), total: Type.Integer(), countsByStatus: JobCountsByStatus });
export type JobList = Static<typeof JobList>;

/** What one action did to one job. */
export const JobActionResult = Type.Object({
  id: Type.String(),
  ok: Type.Boolean({ description: 'whether the action was done to this job' }),
  status: Nullable(Type.Union([JobStatusSchema, Type.Literal('deleted')], { description: "the job's status afterwards; null when it does not exist for this user" })),
  archived: Type.Boolean(),
  error: Nullable(Type.String({ description: 'why the action was refused (ok false)' })),
});
export type JobActionResult = Static<typeof JobActionResult>;

/** POST /jobs/actions. */
export const JobActionResults = Type.Object({ action: Type.String(), results: Type.Array(JobActionResult) });
export type JobActionResults = Static<typeof JobActionResults>;

/** POST /jobs/:id/tasks/stop|retry: the job afterwards and the task numbers acted on. */
export const TaskActionAnswer = Type.Object({ job: JobView, tasks: Type.Array(Type.Integer()) });
export type TaskActionAnswer = Static<typeof TaskActionAnswer>;

export const JobDeleted = Type.Object({ id: Type.String(), deleted: Type.Literal(true) });
