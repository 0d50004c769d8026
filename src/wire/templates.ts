// Template jobs (Open Job Description): the request, the check, what a lease carries, a job's
// steps as its view shows them, and what a running template task reports.
import { Type, type Static } from '@sinclair/typebox';
import type { ParameterValue } from '../core/templates/parameters.js';
import type { HostRequirements, JobTemplate, TaskParameterType } from '../core/templates/template.js';
import { Nullable, Sha256, strict, type FileRef } from './common.js';
import { RunFields } from './scheduling.js';
import { JobStatusSchema, TaskCounts } from './states.js';

const TemplateDocument = Type.Union([Type.Object({}, { additionalProperties: true }), Type.String({ minLength: 1, maxLength: 4 * 1024 * 1024 })], {
  description: 'an Open Job Description job template (jobtemplate-2023-09): the document as JSON, or its YAML or JSON text; checked in full by the coordinator, which names the path of each problem',
});
const TemplateParameters = Type.Optional(
  Type.Record(Type.String({ maxLength: 64 }), Type.Union([Type.String({ maxLength: 100_000 }), Type.Number(), Type.Boolean()]), { description: 'job parameter values by name; they win over parameterValues, and the rest take their defaults' }),
);
const TemplateParameterValues = Type.Optional(Type.String({ maxLength: 1024 * 1024, description: "the text of a job bundle's parameter_values.yaml or .json" }));

/** POST /templates/check: the template and values checked as POST /jobs would, nothing stored. */
export const TemplateCheckBody = Type.Object({ template: TemplateDocument, parameters: TemplateParameters, parameterValues: TemplateParameterValues }, strict);
export type TemplateCheckBody = Static<typeof TemplateCheckBody>;

/** What POST /templates/check answers: the job the template and values make. */
export const TemplateCheckAnswer = Type.Object({
  name: Type.String(),
  taskCount: Type.Integer(),
  steps: Type.Array(Type.Object({ name: Type.String(), taskCount: Type.Integer(), dependsOn: Type.Array(Type.String()) })),
  parameterDefinitions: Type.Array(Type.Unknown(), { description: "the template's parameterDefinitions, as written" }),
  parameters: Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean()]), { description: 'every job parameter with the value the job would get' }),
  given: Type.Record(Type.String(), Type.Unknown(), { description: 'the values given (parameterValues merged under parameters)' }),
  template: Type.Unknown({ description: 'the template as checked' }),
});

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
    ...RunFields,
    network: Type.Optional(Type.Boolean()),
    start: Type.Optional(Type.Boolean()),
  },
  strict,
);
export type TemplateJobBody = Static<typeof TemplateJobBody>;

export type DataFlow = 'NONE' | 'IN' | 'OUT' | 'INOUT';

/** A PATH parameter that carries data between the submitter, the steps and the results. */
export interface DataParameter {
  flow: Exclude<DataFlow, 'NONE'>;
  objectType: 'FILE' | 'DIRECTORY';
  /** IN/INOUT: what was uploaded, `name` relative to the parameter's file or directory. */
  files: FileRef[];
}

export interface TemplateStepSpec {
  name: string;
  dependsOn: number[];
  hostRequirements: HostRequirements | null;
  parameterTypes: Record<string, TaskParameterType>;
  taskCount: number;
}

/**
 * What a template job keeps beside its rows; the agent gets it with every leased task as `jobSpec`.
 * A TypeScript type rather than a schema: the template inside was checked by core/templates when
 * the job was made, and nobody sends this shape to the coordinator.
 */
export interface TemplateJobSpec {
  template: JobTemplate;
  parameters: Record<string, ParameterValue>;
  dataParameters: Record<string, DataParameter>;
  steps: TemplateStepSpec[];
  network: boolean;
}

/** A template task's own part (its lease's `taskSpec`): its step and task parameter values. */
export const TemplateTaskSpec = Type.Object({ step: Type.Integer(), stepName: Type.String(), parameters: Type.Record(Type.String(), Type.String()) });
export type TemplateTaskSpec = Static<typeof TemplateTaskSpec>;

export const StepStatusSchema = Type.Union([JobStatusSchema, Type.Literal('pending')]);
export type StepStatus = Static<typeof StepStatusSchema>;

/** A step of a template job as its view shows it. */
export const StepView = Type.Object({
  index: Type.Integer(),
  name: Type.String(),
  status: StepStatusSchema,
  taskCount: Type.Integer(),
  counts: TaskCounts,
  dependsOn: Type.Array(Type.String()),
  unschedulable: Nullable(Type.String({ description: 'why no connected agent may run its tasks (host requirements)' })),
});
export type StepView = Static<typeof StepView>;

/** What a running template task says of itself (openjd_progress, openjd_status lines). */
export const TaskStatusBody = Type.Object(
  {
    attempt: Type.Integer({ minimum: 1 }),
    progress: Type.Optional(Type.Number({ minimum: 0, maximum: 100 })),
    message: Type.Optional(Type.String({ maxLength: 2000 })),
  },
  strict,
);
export type TaskStatusBody = Static<typeof TaskStatusBody>;

/** GET /agent/jobs/:id/inputs?step=N: the outputs of the steps step N depends on. */
export const StepInputsQuery = Type.Object({ step: Type.Integer({ minimum: 0, maximum: 10_000 }) }, strict);
