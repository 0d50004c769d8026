// Tasks: the task view, one task's attempts and files, and its logs.
import { Type, type Static } from '@sinclair/typebox';
import { Nullable, StoredFile, strict, Time } from './common.js';
import { TaskStatusSchema } from './states.js';

export const TaskIdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) }, strict);

export const TaskListQuery = Type.Object(
  {
    status: Type.Optional(TaskStatusSchema),
    offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000_000 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  },
  strict,
);

export const LogQuery = Type.Object(
  {
    attempt: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
    after: Type.Optional(Type.Integer({ minimum: 0 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })),
  },
  strict,
);

/** A task as lists, the job's events and GET /tasks/:id show it. */
export const TaskView = Type.Object({
  id: Type.String(),
  jobId: Type.String(),
  index: Type.Integer(),
  status: TaskStatusSchema,
  input: Type.String(),
  attempts: Type.Integer({ description: 'attempts started so far, whatever became of them: the number of the latest attempt' }),
  tries: Type.Integer({ description: 'attempts since the task was last queued by a retry, less any its agent gave back at shutdown: what counts against maxAttempts' }),
  maxAttempts: Type.Integer(),
  agent: Nullable(Type.String()),
  startedAt: Nullable(Time),
  finishedAt: Nullable(Time),
  durationMs: Nullable(Type.Number()),
  exitCode: Nullable(Type.Integer()),
  error: Nullable(Type.String()),
  // Template tasks: their step, task parameter values, and what the running attempt last said.
  step: Type.Optional(Type.String()),
  parameters: Type.Optional(Type.Record(Type.String(), Type.String())),
  progress: Type.Optional(Nullable(Type.Number())),
  message: Type.Optional(Nullable(Type.String())),
  warning: Nullable(Type.String({ description: 'a done task that looks like it did nothing (exited 0, no result file, nothing printed)' })),
});
export type TaskView = Static<typeof TaskView>;

/** GET /jobs/:id/tasks. */
export const TaskPage = Type.Object({ tasks: Type.Array(TaskView), total: Type.Integer() });
export type TaskPage = Static<typeof TaskPage>;

export const AttemptView = Type.Object({
  attempt: Type.Integer(),
  agent: Nullable(Type.String()),
  status: Type.String(),
  startedAt: Nullable(Time),
  finishedAt: Nullable(Time),
  exitCode: Nullable(Type.Integer()),
  error: Nullable(Type.String()),
});
export type AttemptView = Static<typeof AttemptView>;

/** GET /tasks/:id: the task with each attempt and what it delivered (frames, result files, stdout.txt, stderr.txt). */
export const TaskDetail = Type.Composite([Type.Omit(TaskView, ['attempts']), Type.Object({ attempts: Type.Array(AttemptView), files: Type.Array(StoredFile) })]);
export type TaskDetail = Static<typeof TaskDetail>;

export const LOG_STREAMS = ['stdout', 'stderr', 'system'] as const;
export type LogStream = (typeof LOG_STREAMS)[number];
export const LogStreamSchema = Type.Union(LOG_STREAMS.map((s) => Type.Literal(s)));

export const LogEntry = Type.Object({ seq: Type.Integer(), attempt: Type.Integer(), stream: LogStreamSchema, data: Type.String(), time: Time });
export type LogEntry = Static<typeof LogEntry>;

/** GET /tasks/:id/logs. */
export const LogPage = Type.Object({ entries: Type.Array(LogEntry) });
export type LogPage = Static<typeof LogPage>;
