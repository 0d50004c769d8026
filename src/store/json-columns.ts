// The JSON documents kept in text columns, read back: each kind of document is parsed here, once,
// and typed as our code writes it (only Drover writes these columns, from requests already checked
// against the wire contract), so callers neither parse nor cast. A caller passes only the columns it
// reads: the leasing and completion paths parse the documents they use and no other.
import type { JobRequirements } from '../core/job-requirements.js';
import type { JobKind } from '../wire/jobs.js';
import type { RenderJobSpec, RenderView } from '../wire/render.js';
import type { TemplateJobSpec, TemplateTaskSpec } from '../wire/templates.js';
import type { DeliveryView } from '../wire/webhooks.js';

/** The spec documents of the kinds whose spec is read outside the hot paths, by kind. */
export interface JobSpecs {
  render: RenderJobSpec;
  template: TemplateJobSpec;
}

/**
 * A job's spec as the kind that wrote it reads it back. The kind is checked: a job of another kind
 * here is a bug in the caller, and reading its spec as this kind's would go wrong further on.
 */
export function jobSpecOf<K extends keyof JobSpecs>(row: { kind: JobKind; spec: string }, kind: K): JobSpecs[K] {
  if (row.kind !== kind) throw new Error(`a ${row.kind} job's spec read as a ${kind} job's`);
  return JSON.parse(row.spec) as JobSpecs[K];
}

/** What any kind's job spec may hold that a job's view shows, whatever its kind. */
export interface SharedJobSpec {
  render?: RenderView;
  network?: boolean;
  requireResults?: boolean;
}

export function sharedJobSpecOf(row: { spec: string }): SharedJobSpec {
  return JSON.parse(row.spec) as SharedJobSpec;
}

/** What a job's tasks ask of an agent beyond cores (jobs.requirements), or null. */
export function jobRequirementsOf(row: { requirements: string | null }): JobRequirements | null {
  return row.requirements ? (JSON.parse(row.requirements) as JobRequirements) : null;
}

/** A template task's own part of its spec (the text of its tasks.spec). */
export function templateTaskSpecOf(text: string): TemplateTaskSpec {
  return JSON.parse(text) as TemplateTaskSpec;
}

/** Labels (agents.labels, agents.set_labels); an empty column is no labels. */
export function labelsOf(text: string): Record<string, string> {
  return JSON.parse(text || '{}') as Record<string, string>;
}

/** What an agent can hold its host tasks to (agents.limits), or null for an agent too old to say. */
export function agentLimitsOf(row: { limits: string | null }): { memory: boolean; processes: boolean; how: string } | null {
  const limits = JSON.parse(row.limits || '{}') as { memory: boolean; processes: boolean; how?: string };
  return limits.how ? { ...limits, how: limits.how } : null;
}

/** What an audit entry says changed (audit_log.details). */
export function auditDetailsOf(row: { details: string }): Record<string, unknown> {
  return JSON.parse(row.details) as Record<string, unknown>;
}

export type DeliveryTry = DeliveryView['tries'][number];

/** A webhook delivery's tries so far (webhook_deliveries.tries). */
export function deliveryTriesOf(row: { tries: string }): DeliveryTry[] {
  return JSON.parse(row.tries) as DeliveryTry[];
}
