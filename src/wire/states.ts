// Job and task states as the wire carries them (the rules that move between them are src/core/states.ts).
import { Type, type Static } from '@sinclair/typebox';
import { JOB_STATUSES, TASK_STATUSES } from '../core/states.js';

export const JobStatusSchema = Type.Union(JOB_STATUSES.map((s) => Type.Literal(s)));
export const TaskStatusSchema = Type.Union(TASK_STATUSES.map((s) => Type.Literal(s)));

/** Tasks by state. */
export const TaskCounts = Type.Object(Object.fromEntries(TASK_STATUSES.map((s) => [s, Type.Integer()])) as Record<(typeof TASK_STATUSES)[number], ReturnType<typeof Type.Integer>>);
export type TaskCounts = Static<typeof TaskCounts>;
