// The template kind: an Open Job Description template expanded into steps of tasks.
import type { JobKindDefinition } from '../kind.js';
import { templateResultsIndex } from './results.js';
import { stepViews } from './steps-view.js';
import { type TemplateJobRequest, type TemplateJobSpec, createTemplateJob } from './template-jobs.js';

export const templateKind: JobKindDefinition<TemplateJobRequest> = {
  create: createTemplateJob,
  steps: (spec) => (spec as TemplateJobSpec).steps,
  quickCompletion: false,
  warnsWhenNothingProduced: false,
  async detail(db, row, view) {
    view.steps = await stepViews(db, row);
  },
  resultsIndex: async (_ctx, job, tasks, byTask) => templateResultsIndex(job, tasks, byTask),
};
