// The farm's agents as people see them (GET /workers, GET /workers/:id) and what admins change.
import { Type, type Static } from '@sinclair/typebox';
import { Nullable, strict, Time } from './common.js';
import { InstanceTypeSchema } from './scheduling.js';

export const AGENT_STATUSES = ['online', 'offline', 'draining'] as const;
export type AgentStatus = (typeof AGENT_STATUSES)[number];

/** An agent's id or its name (names are what people type; ids are what links carry). */
export const WorkerParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 200 }) }, strict);
export const LabelsBody = Type.Object(
  { labels: Type.Record(Type.String({ minLength: 1, maxLength: 63 }), Type.String({ maxLength: 200 }), { description: 'an empty value removes the label' }) },
  strict,
);

/** What every view of an agent says. */
const WorkerFacts = Type.Object({
  id: Type.String(),
  name: Type.String(),
  status: Type.Union(AGENT_STATUSES.map((s) => Type.Literal(s))),
  paused: Type.Boolean({ description: 'paused by an admin: it finishes its running tasks and takes no new ones' }),
  cores: Type.Integer(),
  memoryBytes: Type.Number(),
  labels: Type.Record(Type.String(), Type.String()),
  slots: Type.Integer(),
  sandbox: Type.Boolean({ description: 'whether its tasks run confined' }),
  limits: Nullable(Type.Object({ memory: Type.Boolean(), processes: Type.Boolean(), how: Type.String() }, { description: 'what it holds host tasks to; null for an agent too old to say' })),
  version: Type.String(),
  lastSeenAt: Nullable(Time),
});

/** A task an agent runs; another user's task is shown without its ids. */
const RunningTask = Type.Object({
  id: Nullable(Type.String()),
  jobId: Nullable(Type.String()),
  index: Nullable(Type.Integer()),
  cores: Type.Integer({ description: 'what the task asks for' }),
  uploading: Type.Boolean({ description: 'its work is over and its results are on their way; it uses no slot' }),
});

export const WorkerView = Type.Composite([WorkerFacts, Type.Object({ runningTasks: Type.Array(RunningTask) })]);
export type WorkerView = Static<typeof WorkerView>;

/** GET /workers: the agents, and the farm's task network setting. */
export const WorkerList = Type.Object({
  taskNetwork: Type.Union([Type.Literal('allow'), Type.Literal('deny')], { description: '`deny` keeps every task off the network, whatever its job asks' }),
  workers: Type.Array(WorkerView),
});
export type WorkerList = Static<typeof WorkerList>;

/** GET /workers/:id: one agent, what it can run, its latest attempts and the jobs that gave up on it. */
export const WorkerDetail = Type.Composite([
  WorkerFacts,
  Type.Object({
    runningTasks: Type.Integer(),
    runningCores: Type.Integer(),
    uploadingTasks: Type.Integer(),
    canRun: Type.Array(Type.Object({ instanceType: InstanceTypeSchema, cores: Type.Integer(), fits: Type.Boolean() })),
    recent: Type.Array(
      Type.Object({
        taskId: Type.String(),
        jobId: Type.String(),
        jobName: Type.String(),
        index: Type.Integer(),
        attempt: Type.Integer(),
        status: Type.String(),
        startedAt: Nullable(Time),
        finishedAt: Nullable(Time),
        exitCode: Nullable(Type.Integer()),
        error: Nullable(Type.String()),
      }),
    ),
    blockedBy: Type.Array(Type.Object({ jobId: Type.String(), jobName: Type.String(), failures: Type.Integer() })),
  }),
]);
export type WorkerDetail = Static<typeof WorkerDetail>;

/** POST /workers/:id/pause|resume (admins). */
export const WorkerPaused = Type.Object({ name: Type.String(), paused: Type.Boolean() });
/** POST /workers/:id/labels (admins): the labels the agent has now. */
export const WorkerLabels = Type.Object({ name: Type.String(), labels: Type.Record(Type.String(), Type.String()) });
export type WorkerLabels = Static<typeof WorkerLabels>;
