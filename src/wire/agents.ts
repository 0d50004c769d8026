// The agent protocol: join, lease, heartbeat, logs, completion and release. What an agent sends is
// validated by the coordinator against these schemas; what it receives is described by them.
import { Type, type Static } from '@sinclair/typebox';
import { FileRef, Sha256, StoredFile, strict } from './common.js';
import { LogStreamSchema } from './tasks.js';

export const RegisterAgentBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 128, pattern: '^[^\\u0000-\\u001f\\u007f]+$' }),
    cores: Type.Integer({ minimum: 1, maximum: 100_000 }),
    memoryBytes: Type.Integer({ minimum: 0 }),
    labels: Type.Record(Type.String({ maxLength: 128 }), Type.String({ maxLength: 512 })),
    slots: Type.Integer({ minimum: 1, maximum: 100_000 }),
    sandbox: Type.Boolean(),
    version: Type.String({ maxLength: 64 }),
    attributes: Type.Optional(
      Type.Object({ os: Type.String({ maxLength: 32 }), arch: Type.String({ maxLength: 32 }), gpus: Type.Integer({ minimum: 0, maximum: 1024 }) }, strict),
    ),
    /** What the agent can hold its host tasks to. */
    limits: Type.Optional(Type.Object({ memory: Type.Boolean(), processes: Type.Boolean(), how: Type.String({ maxLength: 100 }) }, strict)),
    previousToken: Type.Optional(Type.String({ maxLength: 256 })),
  },
  strict,
);
export type RegisterAgentBody = Static<typeof RegisterAgentBody>;

/** POST /agents/register: who the agent is now, its token, and how often to renew its leases. */
export const JoinAnswer = Type.Object({ agentId: Type.String(), agentToken: Type.String(), leaseSeconds: Type.Number(), heartbeatSeconds: Type.Number() });
export type JoinAnswer = Static<typeof JoinAnswer>;

/** Tasks to hold beyond those that fit the free cores, each to start when a slot frees (see leaseForMany). */
const Prefetch = Type.Optional(Type.Integer({ minimum: 0, maximum: 100 }));
/** Tasks the agent holds already, running or waiting (not those reported in the same request): prefetch fills its hold up to its share. */
const Holding = Type.Optional(Type.Integer({ minimum: 0, maximum: 100_000 }));

export const LeaseBody = Type.Object(
  {
    freeCores: Type.Integer({ minimum: 0, maximum: 100_000 }),
    maxTasks: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })),
    prefetch: Prefetch,
    holding: Holding,
    waitSeconds: Type.Optional(Type.Number({ minimum: 0, maximum: 60 })),
  },
  strict,
);
export type LeaseBody = Static<typeof LeaseBody>;

export const LEASE_KINDS = ['script', 'render', 'template', 'preview'] as const;

/** A task as an agent receives it: what to run and under which lease. */
export const LeasedTask = Type.Object({
  taskId: Type.String(),
  jobId: Type.String(),
  index: Type.Integer(),
  attempt: Type.Integer(),
  kind: Type.Union(LEASE_KINDS.map((k) => Type.Literal(k)), { description: "the program the agent runs: the job's kind, or a step's own (render jobs' `preview`)" }),
  cores: Type.Integer(),
  priority: Type.Optional(Type.Integer({ description: "the job's priority: an agent starts the tasks it holds highest priority first" })),
  gpus: Type.Optional(Type.Integer({ description: "GPUs the task asks for (its job's `--gpus`)" })),
  memoryMiB: Type.Optional(Type.Integer({ description: "memory the task asks for (its job's `--memory`); without it, its cores' share" })),
  /** Set by the agent when the task starts: the indices of the GPUs it was given (CUDA_VISIBLE_DEVICES). */
  gpuDevices: Type.Optional(Type.Array(Type.Integer())),
  timeoutSeconds: Type.Union([Type.Number(), Type.Null()]),
  image: Type.Union([Type.String(), Type.Null()]),
  network: Type.Boolean(),
  files: Type.Array(FileRef, { description: 'files to lay out in the task directory, by name' }),
  script: Type.Optional(Type.String({ description: "script jobs: the script's name inside the task directory" })),
  input: Type.String(),
  jobSpec: Type.Unknown({ description: 'job-level settings of its kind: render RenderJobSpec, template TemplateJobSpec (src/wire/render.ts, templates.ts)' }),
  taskSpec: Type.Unknown({ description: 'task-level settings of its kind: template TemplateTaskSpec, preview PreviewTaskSpec' }),
});
export type LeasedTask = Static<typeof LeasedTask>;

/** POST /agent/lease. */
export const LeaseAnswer = Type.Object({ tasks: Type.Array(LeasedTask) });
export type LeaseAnswer = Static<typeof LeaseAnswer>;

/** One attempt of one task: what heartbeats and answers name. */
export const TaskAttempt = Type.Object({ taskId: Type.String({ maxLength: 64 }), attempt: Type.Integer({ minimum: 1 }) }, strict);
export type TaskAttempt = Static<typeof TaskAttempt>;

export const HeartbeatBody = Type.Object(
  {
    tasks: Type.Array(
      Type.Object(
        {
          taskId: Type.String({ maxLength: 64 }),
          attempt: Type.Integer({ minimum: 1 }),
          /** The task's work is over and its results are being sent (counted apart from running). */
          uploading: Type.Optional(Type.Boolean()),
        },
        strict,
      ),
      { maxItems: 10_000 },
    ),
    draining: Type.Optional(Type.Boolean()),
    /** Jobs the agent keeps warm sessions for: the answer's `endedJobs` says which have ended. */
    jobs: Type.Optional(Type.Array(Type.String({ maxLength: 64 }), { maxItems: 1000 })),
    /** Of `tasks`, those held unstarted (prefetch): the answer's `giveBack` names those a more urgent job should pass. */
    held: Type.Optional(Type.Array(TaskAttempt, { maxItems: 1000 })),
  },
  strict,
);
export type HeartbeatBody = Static<typeof HeartbeatBody>;

/** POST /agent/heartbeat: tasks to stop, jobs that ended, held tasks to give back. */
export const HeartbeatAnswer = Type.Object({ cancel: Type.Array(TaskAttempt), endedJobs: Type.Array(Type.String()), giveBack: Type.Array(TaskAttempt) });
export type HeartbeatAnswer = Static<typeof HeartbeatAnswer>;

export const LogsBody = Type.Object(
  {
    attempt: Type.Integer({ minimum: 1 }),
    chunks: Type.Array(Type.Object({ stream: LogStreamSchema, data: Type.String({ maxLength: 4 * 1024 * 1024 }) }, strict), { maxItems: 10_000 }),
  },
  strict,
);
export type LogsBody = Static<typeof LogsBody>;

const StoredStream = Type.Object({ sha256: Sha256, size: Type.Integer({ minimum: 0 }) }, strict);
export const CompleteBody = Type.Object(
  {
    attempt: Type.Integer({ minimum: 1 }),
    exitCode: Type.Union([Type.Integer(), Type.Null()]),
    error: Type.Optional(Type.String({ maxLength: 10_000 })),
    warning: Type.Optional(Type.String({ maxLength: 10_000, description: 'a success that left something out (a preview that could not be made), kept as the task warning' })),
    files: Type.Array(StoredFile, { maxItems: 100_000 }),
    stdout: StoredStream,
    stderr: StoredStream,
  },
  strict,
);
export type CompleteBody = Static<typeof CompleteBody>;

/** Many completions at once (POST /agent/complete), optionally leasing the next tasks in the same request. */
export const CompleteBatchBody = Type.Object(
  {
    completions: Type.Array(Type.Composite([Type.Object({ taskId: Type.String({ minLength: 1, maxLength: 64 }) }), CompleteBody], strict), { maxItems: 10_000 }),
    lease: Type.Optional(
      Type.Object({ freeCores: Type.Integer({ minimum: 0, maximum: 100_000 }), maxTasks: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })), prefetch: Prefetch, holding: Holding }, strict),
    ),
  },
  strict,
);
export type CompleteBatchBody = Static<typeof CompleteBatchBody>;

/** Each completion's fate: accepted, or refused with the status and error a single completion would have got. */
export const CompletionResult = Type.Union([
  Type.Object({ taskId: Type.String(), accepted: Type.Literal(true) }),
  Type.Object({ taskId: Type.String(), accepted: Type.Literal(false), status: Type.Integer(), error: Type.Object({ code: Type.String(), message: Type.String() }) }),
]);
export type CompletionResult = Static<typeof CompletionResult>;

/** POST /agent/complete: each completion's result, and the next tasks when `lease` asked for them. */
export const CompleteBatchAnswer = Type.Object({ results: Type.Array(CompletionResult), tasks: Type.Optional(Type.Array(LeasedTask)) });
export type CompleteBatchAnswer = Static<typeof CompleteBatchAnswer>;

/** POST /agent/tasks/:id/complete: the completion was accepted (a refusal is an error answer, 409 lease_lost). */
export const CompleteAnswer = Type.Object({ accepted: Type.Literal(true) });

export const ReleaseBody = Type.Object({ attempt: Type.Integer({ minimum: 1 }), reason: Type.String({ maxLength: 1000 }) }, strict);
/** POST /agent/tasks/:id/release: the task goes back to the queue. */
export const ReleaseAnswer = Type.Object({ released: Type.Literal(true) });

/** GET /agent/jobs/:id/inputs: the files a step's tasks find in place (what the steps it depends on wrote). */
export const StepInputsAnswer = Type.Object({ files: Type.Array(StoredFile) });
export type StepInputsAnswer = Static<typeof StepInputsAnswer>;
