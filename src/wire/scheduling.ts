// What every kind of job request may say about scheduling its tasks (docs/api.md "Scheduling"),
// and what a job view says back.
import { Type, type Static } from '@sinclair/typebox';
import { INSTANCE_TYPES } from '../core/instance-types.js';
import { strict } from './common.js';

export const InstanceTypeSchema = Type.Union(INSTANCE_TYPES.map((t) => Type.Literal(t)));

/** What a job asks of an agent beyond cores (`requirements` on every kind of job). */
export const Requirements = Type.Object(
  {
    memoryMiB: Type.Optional(Type.Integer({ minimum: 1, maximum: 16 * 1024 * 1024, description: 'memory an agent must have, MiB' })),
    gpus: Type.Optional(Type.Integer({ minimum: 0, maximum: 64, description: 'GPUs an agent must have' })),
    labels: Type.Optional(Type.Record(Type.String({ maxLength: 63 }), Type.String({ minLength: 1, maxLength: 200 }), { description: 'labels the agent must carry (its --label key=value)' })),
  },
  strict,
);
export type Requirements = Static<typeof Requirements>;

export const Priority = Type.Integer({ minimum: 0, maximum: 100, description: 'higher runs first; default 50' });

/** The scheduling fields of every kind's request (services/job-creation.ts RunRequest). */
export const SchedulingFields = {
  priority: Type.Optional(Priority),
  after: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 100 }), { maxItems: 100, description: 'jobs this one waits for: its tasks run once they are done' })),
  afterAny: Type.Optional(Type.Boolean({ description: 'wait for the `after` jobs to end whatever their state' })),
  cores: Type.Optional(Type.Integer({ minimum: 1, maximum: 1024, description: "cores per task, instead of the instance type's" })),
  requirements: Type.Optional(Requirements),
};
export const SchedulingRequest = Type.Object(SchedulingFields, strict);

/** How every kind of job runs its tasks: machine size, retries, scheduling, time limit, container image. */
export const RunFields = {
  instanceType: Type.Optional(InstanceTypeSchema),
  maxAttempts: Type.Optional(Type.Integer({ minimum: 1, maximum: 20 })),
  ...SchedulingFields,
  taskTimeoutSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 7 * 86400 })),
  image: Type.Optional(Type.String({ minLength: 1, maxLength: 500 })),
};
export type SchedulingRequest = Static<typeof SchedulingRequest>;
