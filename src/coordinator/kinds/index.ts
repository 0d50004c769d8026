// The registry of job kinds: each kind's folder defines it (see kind.ts); everything else asks here
// instead of testing a kind's name.
import type { UserPrincipal } from '../services/accounts.js';
import type { ServiceContext } from '../services/context.js';
import type { JobKind } from '../services/job-creation.js';
import type { JobKindDefinition } from './kind.js';
import { renderKind } from './render/index.js';
import type { RenderJobRequest } from './render/render-jobs.js';
import { scriptKind } from './script/index.js';
import type { ScriptJobRequest } from './script/script-jobs.js';
import { templateKind } from './template/index.js';
import type { TemplateJobRequest } from './template/template-jobs.js';

/** What POST /jobs takes: a request of one of the kinds. */
export type JobRequest = ScriptJobRequest | RenderJobRequest | TemplateJobRequest;

const kinds: { [K in JobKind]: JobKindDefinition<Extract<JobRequest, { kind: K }>> } = {
  script: scriptKind,
  render: renderKind,
  template: templateKind,
};

/** The definition of a stored job's kind (its `kind` column). */
export function kindOf(kind: JobKind): JobKindDefinition<never> {
  // A store written by a later Drover may hold a kind this one does not know.
  const definition: JobKindDefinition<never> | undefined = kinds[kind];
  if (!definition) throw new Error(`unknown job kind "${kind}"`);
  return definition;
}

/** The kinds whose counts (and progress) are of one step's tasks only, with that step. */
export function countedSteps(): Record<string, number> {
  const steps: Record<string, number> = {};
  for (const [name, definition] of Object.entries(kinds)) if (definition.countedStep !== undefined) steps[name] = definition.countedStep;
  return steps;
}

/** Validates and stores a job of the request's kind; returns its id. */
export function createJob(ctx: ServiceContext, user: UserPrincipal, req: JobRequest): Promise<string> {
  return (kinds[req.kind] as JobKindDefinition<JobRequest>).create(ctx, user, req);
}
