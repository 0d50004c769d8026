// Webhooks (`drover webhook`, the web app's Webhooks page) and the audit log (`drover audit`, the
// Audit page): what the coordinator answers about them.
import { type Static, Type } from '@sinclair/typebox';
import { Nullable } from './common.js';

export const WEBHOOK_EVENTS = ['job.done', 'job.error', 'job.canceled'] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

export const WebhookView = Type.Object({
  id: Type.String(),
  url: Type.String(),
  events: Type.Array(Type.Union(WEBHOOK_EVENTS.map((e) => Type.Literal(e)))),
  createdAt: Type.String(),
});
export type WebhookView = Static<typeof WebhookView>;

export const DeliveryView = Type.Object({
  id: Type.String(),
  event: Type.String(),
  jobId: Type.String(),
  status: Type.Union([Type.Literal('pending'), Type.Literal('delivered'), Type.Literal('failed')]),
  createdAt: Type.String(),
  attempts: Type.Integer(),
  nextAttemptAt: Nullable(Type.String()),
  deliveredAt: Nullable(Type.String()),
  lastStatus: Nullable(Type.Integer()),
  lastError: Nullable(Type.String()),
  tries: Type.Array(Type.Object({ time: Type.String(), status: Nullable(Type.Integer()), error: Nullable(Type.String()) })),
});
export type DeliveryView = Static<typeof DeliveryView>;

export const AuditEntry = Type.Object({
  time: Type.String(),
  user: Type.String(),
  userId: Type.String(),
  action: Type.String(),
  /** What was acted on: a job id, a user name, a token or webhook id. */
  target: Type.String(),
  details: Type.Record(Type.String(), Type.Unknown()),
});
export type AuditEntry = Static<typeof AuditEntry>;
