// Template jobs (Open Job Description): a template and parameter values become a job of steps,
// stored whole or not at all. PATH parameters that carry data (dataFlow IN/INOUT) name files the
// client uploaded first; OUT/INOUT directories are collected from the tasks that write them.
import type { InstanceType } from '../../../core/instance-types.js';
import { relativePathProblem } from '../../../core/inputs.js';
import { expandTemplate } from '../../../core/templates/expand.js';
import type { ParameterInput } from '../../../core/templates/parameters.js';
import { ParameterError } from '../../../core/templates/parameters.js';
import { TemplateError, describeProblem } from '../../../core/templates/problems.js';
import type { JobTemplate } from '../../../core/templates/template.js';
import { checkTemplate } from '../../../core/templates/validate.js';
import { ParameterValuesError, bundleParameterValues } from '../../../core/templates/parameter-values.js';
import { parse as parseYaml } from 'yaml';
import { badRequest, leaseLost, notFound } from '../../errors.js';
import type { AgentPrincipal } from '../../services/agents.js';
import type { UserPrincipal } from '../../services/accounts.js';
import type { ServiceContext } from '../../services/context.js';
import { resolveJobImage } from '../../services/images.js';
import { type FileRef, type NewTask, assertOwnsFiles, insertJobWithTasks, jobNameProblem, jobNetwork, type RunRequest, runSettings } from '../../services/job-creation.js';
import { NETWORK_DEFAULTS } from '../../../core/task-network.js';
import type { DataParameter, TemplateJobSpec, TemplateTaskSpec } from '../../../wire/templates.js';
import { jobSpecOf } from '../../../store/json-columns.js';

/** With what every kind says about running and scheduling its tasks (RunRequest). */
export interface TemplateJobRequest extends RunRequest {
  kind: 'template';
  /** The job template: the document (parsed), or its YAML or JSON text. */
  template: unknown;
  parameters?: Record<string, ParameterInput>;
  /** The text of a bundle's parameter_values file (its values lose to `parameters`). */
  parameterValues?: string;
  /** The content of PATH parameters with dataFlow IN or INOUT: paths relative to the parameter's file or directory. */
  files?: Record<string, { path: string; sha256: string }[]>;
  image?: string;
  network?: boolean;
}

// What a template job keeps and its leases carry is part of the wire contract (the agent reads it).
export type { DataFlow, DataParameter, TemplateJobSpec, TemplateStepSpec, TemplateTaskSpec } from '../../../wire/templates.js';

/** A document sent as text: YAML (of which JSON is a subset). */
function parsedDocument(what: string, value: unknown): unknown {
  if (typeof value !== 'string') return value;
  try {
    return parseYaml(value, { uniqueKeys: true });
  } catch (err) {
    throw badRequest(`${what} is not valid YAML or JSON: ${(err as Error).message.split('\n')[0]}`);
  }
}

/** The template and values checked and expanded, or a 400 naming every problem with its path. */
export function expandRequest(ctx: ServiceContext, req: Pick<TemplateJobRequest, 'template' | 'parameters' | 'parameterValues'>) {
  try {
    const template = checkTemplate(parsedDocument('the job template', req.template));
    const bundled = req.parameterValues === undefined ? {} : bundleParameterValues(parsedDocument('parameterValues', req.parameterValues));
    const values = { ...bundled, ...req.parameters };
    return { template, values, job: expandTemplate(template, values, { maxTasks: ctx.config.maxTasksPerJob }) };
  } catch (err) {
    if (err instanceof ParameterValuesError) throw badRequest(`parameterValues: ${err.message}`);
    if (err instanceof TemplateError) throw badRequest(`the job template is not valid: ${err.problems.slice(0, 10).map(describeProblem).join('; ')}${err.problems.length > 10 ? `; and ${err.problems.length - 10} more` : ''}`);
    if (err instanceof ParameterError) throw badRequest(err.message);
    throw err;
  }
}

function dataParametersOf(template: JobTemplate, files: TemplateJobRequest['files'] = {}): Record<string, DataParameter> {
  const out: Record<string, DataParameter> = {};
  const defs = new Map((template.parameterDefinitions ?? []).map((d) => [d.name, d]));
  for (const name of Object.keys(files)) {
    const def = defs.get(name);
    if (!def || def.type !== 'PATH') throw badRequest(`files were sent for "${name}", which is not a PATH parameter of the template`);
    if (def.dataFlow !== 'IN' && def.dataFlow !== 'INOUT') throw badRequest(`files were sent for parameter ${name}, whose dataFlow is ${def.dataFlow ?? 'NONE'}: only IN and INOUT parameters take content`);
  }
  for (const def of defs.values()) {
    if (def.type !== 'PATH' || !def.dataFlow || def.dataFlow === 'NONE') continue;
    const given = files[def.name] ?? [];
    const objectType = def.objectType ?? 'DIRECTORY';
    if (def.dataFlow === 'IN' && objectType === 'FILE' && given.length !== 1) {
      throw badRequest(`parameter ${def.name} is an input file (dataFlow IN): upload exactly one file for it (got ${given.length})`);
    }
    for (const f of given) {
      const problem = relativePathProblem(f.path);
      if (problem) throw badRequest(`parameter ${def.name}: ${problem}`);
    }
    out[def.name] = { flow: def.dataFlow, objectType, files: given.map((f) => ({ name: f.path, sha256: f.sha256 })) };
  }
  return out;
}

/** How a task is listed (its `input`): its step and parameter values. */
export function templateTaskLabel(step: string, parameters: Record<string, string>): string {
  const values = Object.entries(parameters).map(([k, v]) => `${k}=${v}`);
  const label = values.length > 0 ? `${step}: ${values.join(', ')}` : step;
  return label.length > 500 ? `${label.slice(0, 499)}…` : label;
}

/** What POST /templates/check answers: the job the template and values would make, nothing stored. */
export function checkTemplateRequest(ctx: ServiceContext, req: Pick<TemplateJobRequest, 'template' | 'parameters' | 'parameterValues'>) {
  const { template, values, job } = expandRequest(ctx, req);
  return {
    name: job.name,
    taskCount: job.taskCount,
    steps: job.steps.map((s) => ({ name: s.name, taskCount: s.tasks.length, dependsOn: s.dependsOn.map((d) => job.steps[d]!.name) })),
    parameterDefinitions: template.parameterDefinitions ?? [],
    parameters: Object.fromEntries(Object.entries(job.parameters).map(([k, v]) => [k, v.value])),
    given: values,
    template,
  };
}

export async function createTemplateJob(ctx: ServiceContext, user: UserPrincipal, req: TemplateJobRequest): Promise<string> {
  const { template, job } = expandRequest(ctx, req);
  const nameProblem = jobNameProblem(job.name);
  if (nameProblem) throw badRequest(nameProblem);
  const dataParameters = dataParametersOf(template, req.files);
  await assertOwnsFiles(ctx, user.id, Object.values(dataParameters).flatMap((p) => p.files));
  const image = await resolveJobImage(ctx.db, user.id, req.image);
  const spec: TemplateJobSpec = {
    template,
    parameters: job.parameters,
    dataParameters,
    steps: job.steps.map((s) => ({ name: s.name, dependsOn: s.dependsOn, hostRequirements: s.hostRequirements, parameterTypes: s.parameterTypes, taskCount: s.tasks.length })),
    network: jobNetwork(ctx, req.network, NETWORK_DEFAULTS.template),
  };
  const tasks: NewTask[] = [];
  job.steps.forEach((s, step) => {
    for (const parameters of s.tasks) {
      tasks.push({ input: templateTaskLabel(s.name, parameters), inputSha: null, spec: { step, stepName: s.name, parameters } satisfies TemplateTaskSpec, step, pending: s.dependsOn.length > 0 });
    }
  });
  return insertJobWithTasks(
    ctx,
    user,
    {
      name: job.name,
      kind: 'template',
      ...runSettings(req),
      image,
      spec,
    },
    tasks,
  );
}

/** A running template task's progress and status message, from the agent that holds it. */
export async function reportTaskStatus(ctx: ServiceContext, agent: AgentPrincipal, taskId: string, body: { attempt: number; progress?: number; message?: string }): Promise<void> {
  const result = await ctx.db
    .updateTable('tasks')
    .set({ ...(body.progress !== undefined ? { progress: body.progress } : {}), ...(body.message !== undefined ? { message: body.message } : {}) })
    .where('id', '=', taskId)
    .where('agent_id', '=', agent.id)
    .where('attempt', '=', body.attempt)
    .where('status', '=', 'running')
    .executeTakeFirst();
  if (Number(result.numUpdatedRows) === 0) throw leaseLost(taskId);
  const task = await ctx.db.selectFrom('tasks').select('job_id').where('id', '=', taskId).executeTakeFirst();
  if (task) ctx.bus.emit('task', taskId, task.job_id);
}

/**
 * What a session of `step` finds at its PATH parameters before its first task: the outputs
 * (`outputs/<Param>/…`) of every step it depends on, directly or not, later steps' files over
 * earlier ones. Only an agent running a task of the job may ask.
 */
export async function stepInputs(ctx: ServiceContext, agent: AgentPrincipal, jobId: string, step: number): Promise<{ path: string; sha256: string; size: number }[]> {
  const holds = await ctx.db.selectFrom('tasks').select('id').where('job_id', '=', jobId).where('agent_id', '=', agent.id).where('status', '=', 'running').limit(1).executeTakeFirst();
  if (!holds) throw notFound(`job ${jobId}`);
  const job = await ctx.db.selectFrom('jobs').select(['kind', 'spec']).where('id', '=', jobId).executeTakeFirst();
  if (!job || job.kind !== 'template') throw notFound(`template job ${jobId}`);
  const spec = jobSpecOf(job, 'template');
  if (!spec.steps[step]) throw badRequest(`job ${jobId} has no step ${step}`);
  const ancestors = new Set<number>();
  const visit = (s: number) => {
    for (const d of spec.steps[s]!.dependsOn) if (!ancestors.has(d)) (ancestors.add(d), visit(d));
  };
  visit(step);
  if (ancestors.size === 0) return [];
  const rows = await ctx.db
    .selectFrom('task_files')
    .innerJoin('tasks', 'tasks.id', 'task_files.task_id')
    .select(['task_files.path', 'task_files.sha256', 'task_files.size', 'tasks.step', 'tasks.idx'])
    .where('tasks.job_id', '=', jobId)
    .where('tasks.step', 'in', [...ancestors])
    .where('tasks.status', '=', 'done')
    .where('task_files.path', 'like', 'outputs/%')
    .orderBy('tasks.step')
    .orderBy('tasks.idx')
    .execute();
  const byPath = new Map<string, { path: string; sha256: string; size: number }>();
  for (const r of rows) byPath.set(r.path, { path: r.path, sha256: r.sha256, size: r.size });
  return [...byPath.values()];
}
