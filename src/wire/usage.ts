// Usage (GET /usage, `drover usage`, the web app's Usage page): core- and GPU-seconds per user, per
// day and per job, from the coordinator's usage ledger.
import { type Static, Type } from '@sinclair/typebox';
import { Nullable, strict } from './common.js';

export const UsageQuery = Type.Object(
  {
    user: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: "one user's usage (admins; others may name only themselves)" })),
    since: Type.Optional(Type.String({ minLength: 1, maxLength: 40, description: 'first day counted, e.g. 2026-12-01 (UTC)' })),
    until: Type.Optional(Type.String({ minLength: 1, maxLength: 40, description: 'last day counted, included' })),
  },
  strict,
);
export type UsageQuery = Static<typeof UsageQuery>;

export const UsageSums = Type.Object({
  coreSeconds: Type.Number(),
  gpuSeconds: Type.Number(),
  jobs: Type.Integer(),
  tasks: Type.Integer(),
  attempts: Type.Integer(),
});
export type UsageSums = Static<typeof UsageSums>;

export const UsageReport = Type.Object({
  /** The first and last day counted (YYYY-MM-DD, UTC, both included); null: no bound. */
  since: Nullable(Type.String()),
  until: Nullable(Type.String()),
  /** One row per user. */
  users: Type.Array(Type.Composite([Type.Object({ user: Type.String() }), UsageSums])),
  /** One row per day and user, oldest first: the chart. */
  days: Type.Array(Type.Composite([Type.Object({ day: Type.String(), user: Type.String() }), UsageSums])),
  /** The jobs that used most; `deleted` when the job is gone. */
  jobs: Type.Array(Type.Composite([Type.Object({ jobId: Type.String(), name: Type.String(), user: Type.String(), deleted: Type.Boolean() }), UsageSums])),
});
export type UsageReport = Static<typeof UsageReport>;
