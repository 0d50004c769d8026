// Request schemas: every body, query and path parameter is validated against these before a
// handler runs; unknown fields are refused. They also generate the OpenAPI document.
import { Type, type Static } from '@sinclair/typebox';
import { INSTANCE_TYPES } from '../../core/instance-types.js';
import { JOB_STATUSES, TASK_STATUSES } from '../../core/states.js';
import { IMAGE_FORMATS } from '../../render/blender-command.js';
import { JOB_SORTS } from '../../store/repositories/jobs.js';
import { JOB_ACTIONS, MAX_BULK_JOBS } from '../../core/job-actions.js';

const strict = { additionalProperties: false } as const;

export const Sha256 = Type.String({ pattern: '^[0-9a-f]{64}$', description: 'lowercase sha256 hex' });
export const FileRef = Type.Object({ name: Type.String({ minLength: 1, maxLength: 255 }), sha256: Sha256 }, strict);
const InstanceTypeSchema = Type.Union(INSTANCE_TYPES.map((t) => Type.Literal(t)));

export const LoginBody = Type.Object({ username: Type.String({ minLength: 1, maxLength: 64 }), password: Type.String({ minLength: 1, maxLength: 1024 }) }, strict);
export const CreateUserBody = Type.Object(
  { name: Type.String({ minLength: 1, maxLength: 64 }), password: Type.String({ minLength: 1, maxLength: 1024 }), admin: Type.Optional(Type.Boolean()) },
  strict,
);
export const UserNameParams = Type.Object({ name: Type.String({ minLength: 1, maxLength: 64 }) }, strict);
export const UserTokenParams = Type.Object({ name: Type.String({ minLength: 1, maxLength: 64 }), id: Type.String({ minLength: 1, maxLength: 64 }) }, strict);
export const ChangePasswordBody = Type.Object({ current: Type.String({ minLength: 1, maxLength: 1024 }), password: Type.String({ minLength: 1, maxLength: 1024 }) }, strict);
export const UpdateUserBody = Type.Object(
  {
    admin: Type.Optional(Type.Boolean()),
    password: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
    // One JSON-schema type list, not anyOf: the request validator coerces types, and null would be coerced into a number.
    maxCores: Type.Optional(Type.Unsafe<number | null>({ type: ['integer', 'null'], minimum: 1, maximum: 1_000_000, description: "the most cores the user's running tasks may hold together; null removes the cap" })),
    monthlyCoreHours: Type.Optional(Type.Unsafe<number | null>({ type: ['number', 'null'], exclusiveMinimum: 0, maximum: 1e9, description: 'core-hours per calendar month (UTC); null removes the budget' })),
    overBudget: Type.Optional(Type.Union([Type.Literal('hold'), Type.Literal('stop')], { description: 'once the budget is spent: hold (no new task starts, the default) or stop (running tasks are stopped too)' })),
  },
  { ...strict, minProperties: 1 },
);

export const CreateApiTokenBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 64 }),
    expiresInSeconds: Type.Optional(Type.Integer({ minimum: 60, maximum: 10 * 366 * 86400, description: 'without it the token lasts until revoked' })),
  },
  strict,
);
/** A named token by its id (`k_…`) or its name. */
export const TokenRefParams = Type.Object({ ref: Type.String({ minLength: 1, maxLength: 64 }) }, strict);

export const MissingBlobsBody = Type.Object({ hashes: Type.Array(Sha256, { maxItems: 100_000 }) }, strict);
export const ShaParams = Type.Object({ sha256: Sha256 }, strict);

const Requirements = Type.Object(
  {
    memoryMiB: Type.Optional(Type.Integer({ minimum: 1, maximum: 16 * 1024 * 1024, description: 'memory an agent must have, MiB' })),
    gpus: Type.Optional(Type.Integer({ minimum: 0, maximum: 64, description: 'GPUs an agent must have' })),
    labels: Type.Optional(Type.Record(Type.String({ maxLength: 63 }), Type.String({ minLength: 1, maxLength: 200 }), { description: 'labels the agent must carry (its --label key=value)' })),
  },
  strict,
);
const Priority = Type.Integer({ minimum: 0, maximum: 100, description: 'higher runs first; default 50' });
export const JobPatchBody = Type.Object({ priority: Priority }, strict);

/** What every job kind's request may say about scheduling its tasks (services/job-creation.ts RunRequest). */
const SchedulingFields = {
  priority: Type.Optional(Priority),
  after: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 100 }), { maxItems: 100, description: 'jobs this one waits for: its tasks run once they are done' })),
  afterAny: Type.Optional(Type.Boolean({ description: 'wait for the `after` jobs to end whatever their state' })),
  cores: Type.Optional(Type.Integer({ minimum: 1, maximum: 1024, description: 'cores per task, instead of the instance type\'s' })),
  requirements: Type.Optional(Requirements),
};

export const ScriptJobBody = Type.Object(
  {
    kind: Type.Literal('script'),
    name: Type.String({ minLength: 1, maxLength: 200 }),
    script: FileRef,
    inputs: Type.Array(FileRef, { minItems: 1, maxItems: 100_000 }),
    constants: Type.Optional(Type.Array(FileRef, { maxItems: 1000 })),
    instanceType: Type.Optional(InstanceTypeSchema),
    maxAttempts: Type.Optional(Type.Integer({ minimum: 1, maximum: 20 })),
    ...SchedulingFields,
    taskTimeoutSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 7 * 86400 })),
    image: Type.Optional(Type.String({ minLength: 1, maxLength: 500 })),
    network: Type.Optional(Type.Boolean({ description: 'network access for the tasks; default true (false when the farm denies it: asking then is refused)' })),
    requireResults: Type.Optional(Type.Boolean({ description: 'a task that exits 0 without writing a file to run-result/ fails' })),
    start: Type.Optional(Type.Boolean()),
  },
  strict,
);
export type ScriptJobBody = Static<typeof ScriptJobBody>;

export const RenderJobBody = Type.Object(
  {
    kind: Type.Literal('render'),
    name: Type.String({ minLength: 1, maxLength: 200 }),
    project: Type.Object(
      {
        files: Type.Array(Type.Object({ path: Type.String({ minLength: 1, maxLength: 1024 }), sha256: Sha256 }, strict), { minItems: 1, maxItems: 100_000 }),
        blend: Type.String({ minLength: 1, maxLength: 1024 }),
      },
      strict,
    ),
    frames: Type.String({ minLength: 1, maxLength: 10_000, description: 'frame expression: 1-250, 1-250:5, 1,5,10-20' }),
    chunk: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000 })),
    scene: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    format: Type.Optional(Type.Union(IMAGE_FORMATS.map((f) => Type.Literal(f)))),
    samples: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
    resolution: Type.Optional(Type.Object({ width: Type.Integer({ minimum: 4, maximum: 65_536 }), height: Type.Integer({ minimum: 4, maximum: 65_536 }) }, strict)),
    percentage: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
    fps: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1000 })),
    instanceType: Type.Optional(InstanceTypeSchema),
    maxAttempts: Type.Optional(Type.Integer({ minimum: 1, maximum: 20 })),
    ...SchedulingFields,
    taskTimeoutSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 7 * 86400 })),
    image: Type.Optional(Type.String({ minLength: 1, maxLength: 500 })),
    network: Type.Optional(Type.Boolean({ description: 'network access for the tasks; default false' })),
    start: Type.Optional(Type.Boolean()),
    cold: Type.Optional(Type.Boolean()),
    sceneSettings: Type.Optional(
      Type.Object(
        {
          format: Type.Optional(Type.String({ minLength: 1, maxLength: 40 })),
          resolution: Type.Optional(Type.Object({ width: Type.Integer({ minimum: 1, maximum: 1_000_000 }), height: Type.Integer({ minimum: 1, maximum: 1_000_000 }) }, strict)),
          percentage: Type.Optional(Type.Integer({ minimum: 1, maximum: 32_767 })), // Blender's own range
          samples: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000_000 })),
        },
        { ...strict, description: 'what the .blend itself says (read by the CLI or the web app): shown where no override is given, never used to render' },
      ),
    ),
  },
  strict,
);

const TemplateDocument = Type.Union([Type.Object({}, { additionalProperties: true }), Type.String({ minLength: 1, maxLength: 4 * 1024 * 1024 })], {
  description: 'an Open Job Description job template (jobtemplate-2023-09): the document as JSON, or its YAML or JSON text; checked in full by the coordinator, which names the path of each problem',
});
const TemplateParameters = Type.Optional(
  Type.Record(Type.String({ maxLength: 64 }), Type.Union([Type.String({ maxLength: 100_000 }), Type.Number(), Type.Boolean()]), { description: 'job parameter values by name; they win over parameterValues, and the rest take their defaults' }),
);
const TemplateParameterValues = Type.Optional(Type.String({ maxLength: 1024 * 1024, description: "the text of a job bundle's parameter_values.yaml or .json" }));

/** POST /templates/check: the template and values checked as POST /jobs would, nothing stored. */
export const TemplateCheckBody = Type.Object({ template: TemplateDocument, parameters: TemplateParameters, parameterValues: TemplateParameterValues }, strict);

export const TemplateJobBody = Type.Object(
  {
    kind: Type.Literal('template'),
    template: TemplateDocument,
    parameters: TemplateParameters,
    parameterValues: TemplateParameterValues,
    files: Type.Optional(
      Type.Record(Type.String({ maxLength: 64 }), Type.Array(Type.Object({ path: Type.String({ minLength: 1, maxLength: 1024 }), sha256: Sha256 }, strict), { maxItems: 100_000 }), {
        description: 'the uploaded content of each PATH parameter with dataFlow IN or INOUT, paths relative to its file or directory',
      }),
    ),
    instanceType: Type.Optional(InstanceTypeSchema),
    maxAttempts: Type.Optional(Type.Integer({ minimum: 1, maximum: 20 })),
    ...SchedulingFields,
    taskTimeoutSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 7 * 86400 })),
    image: Type.Optional(Type.String({ minLength: 1, maxLength: 500 })),
    network: Type.Optional(Type.Boolean()),
    start: Type.Optional(Type.Boolean()),
  },
  strict,
);

/** POST /jobs takes any kind; `kind` picks the schema, so errors speak of the right one. */
export const CreateJobBody = Type.Unsafe<Static<typeof ScriptJobBody> | Static<typeof RenderJobBody> | Static<typeof TemplateJobBody>>({
  type: 'object',
  required: ['kind'],
  discriminator: { propertyName: 'kind' },
  oneOf: [ScriptJobBody, RenderJobBody, TemplateJobBody],
});

/** What a running template task says of itself (openjd_progress, openjd_status lines). */
export const TaskStatusBody = Type.Object(
  {
    attempt: Type.Integer({ minimum: 1 }),
    progress: Type.Optional(Type.Number({ minimum: 0, maximum: 100 })),
    message: Type.Optional(Type.String({ maxLength: 2000 })),
  },
  strict,
);

export const StepInputsQuery = Type.Object({ step: Type.Integer({ minimum: 0, maximum: 10_000 }) }, strict);

export const FrameParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }), frame: Type.Integer({ minimum: 0, maximum: 1_048_574 }) }, strict);
export const FrameListQuery = Type.Object(
  { offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000_000 })), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 5000 })) },
  strict,
);
export const FrameUploadBody = Type.Object(
  {
    attempt: Type.Integer({ minimum: 1 }),
    frame: Type.Integer({ minimum: 0, maximum: 1_048_574 }),
    path: Type.String({ minLength: 1, maxLength: 1024 }),
    sha256: Sha256,
    size: Type.Integer({ minimum: 0 }),
    renderMs: Type.Optional(Type.Integer({ minimum: 0 })),
    thumbnail: Type.Optional(Sha256),
    preview: Type.Optional(Sha256),
  },
  strict,
);

export const JobIdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) }, strict);
export const JobFileParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }), sha256: Sha256 }, strict);

export const JobListQuery = Type.Object(
  {
    status: Type.Optional(Type.Union(JOB_STATUSES.map((s) => Type.Literal(s)))),
    q: Type.Optional(Type.String({ maxLength: 200 })),
    owner: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: "only this user's jobs (admins)" })),
    archived: Type.Optional(Type.Boolean({ description: 'archived jobs only (default: only jobs not archived)' })),
    createdBefore: Type.Optional(Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}(T\\d{2}:\\d{2}(:\\d{2}(\\.\\d+)?)?Z)?$', description: 'only jobs submitted before this time (ISO-8601 UTC)' })),
    sort: Type.Optional(Type.Union(Object.keys(JOB_SORTS).map((s) => Type.Literal(s)))),
    order: Type.Optional(Type.Union([Type.Literal('asc'), Type.Literal('desc')])),
    offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000_000 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })),
  },
  strict,
);

export const TaskListQuery = Type.Object(
  {
    status: Type.Optional(Type.Union(TASK_STATUSES.map((s) => Type.Literal(s)))),
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
    held: Type.Optional(Type.Array(Type.Object({ taskId: Type.String({ maxLength: 64 }), attempt: Type.Integer({ minimum: 1 }) }, strict), { maxItems: 1000 })),
  },
  strict,
);

export const TaskIdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) }, strict);

export const LogsBody = Type.Object(
  {
    attempt: Type.Integer({ minimum: 1 }),
    chunks: Type.Array(
      Type.Object({ stream: Type.Union([Type.Literal('stdout'), Type.Literal('stderr'), Type.Literal('system')]), data: Type.String({ maxLength: 4 * 1024 * 1024 }) }, strict),
      { maxItems: 10_000 },
    ),
  },
  strict,
);

const StoredFile = Type.Object({ sha256: Sha256, size: Type.Integer({ minimum: 0 }) }, strict);
export const CompleteBody = Type.Object(
  {
    attempt: Type.Integer({ minimum: 1 }),
    exitCode: Type.Union([Type.Integer(), Type.Null()]),
    error: Type.Optional(Type.String({ maxLength: 10_000 })),
    warning: Type.Optional(Type.String({ maxLength: 10_000, description: 'a success that left something out (a preview that could not be made), kept as the task warning' })),
    files: Type.Array(Type.Object({ path: Type.String({ minLength: 1, maxLength: 1024 }), sha256: Sha256, size: Type.Integer({ minimum: 0 }) }, strict), { maxItems: 100_000 }),
    stdout: StoredFile,
    stderr: StoredFile,
  },
  strict,
);

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

export const ReleaseBody = Type.Object({ attempt: Type.Integer({ minimum: 1 }), reason: Type.String({ maxLength: 1000 }) }, strict);

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
