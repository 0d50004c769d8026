// Makes a job from a checked template and parameter values: resolves what is known at job creation
// (the name, task parameter ranges, attribute requirements) and expands each step's parameter space
// into its tasks. Pure: no I/O.
import { CombinationError, combinationColumns, combinationSize, parseCombination, type CombinationExpr } from './combination.js';
import { FormatStringError, mapLookup, resolveFormatString } from './format-string.js';
import { type ParameterInput, type ParameterValue, resolveParameters } from './parameters.js';
import { TemplateError, type TemplateProblem } from './problems.js';
import { RangeExprError, parseRangeExpr } from './range-expr.js';
import type { HostRequirements, JobTemplate, TaskParameterDefinition, TaskParameterType } from './template.js';

/** Tasks one job may have unless the coordinator is told otherwise (--max-tasks-per-job). */
export const DEFAULT_MAX_TASKS_PER_JOB = 100_000;

export interface ExpandedStep {
  name: string;
  /** Indices of the steps this one waits for. */
  dependsOn: number[];
  /** With attribute values resolved; null when the step asks nothing of its host. */
  hostRequirements: HostRequirements | null;
  parameterTypes: Record<string, TaskParameterType>;
  /** Each task's parameter values, as format strings see them. */
  tasks: Record<string, string>[];
}

export interface ExpandedJob {
  name: string;
  parameters: Record<string, ParameterValue>;
  steps: ExpandedStep[];
  taskCount: number;
}

/** Format-string values known at job creation: Param (but PATH) and RawParam. */
export function creationLookup(parameters: ReadonlyMap<string, ParameterValue>): (ref: string) => string | undefined {
  const values = new Map<string, string>();
  for (const [name, p] of parameters) {
    values.set(`RawParam.${name}`, p.value);
    if (p.type !== 'PATH') values.set(`Param.${name}`, p.value);
  }
  return mapLookup(values);
}

export function expandTemplate(template: JobTemplate, given: Readonly<Record<string, ParameterInput>>, opts: { maxTasks?: number } = {}): ExpandedJob {
  const maxTasks = opts.maxTasks ?? DEFAULT_MAX_TASKS_PER_JOB;
  const parameters = resolveParameters(template.parameterDefinitions ?? [], given);
  const lookup = creationLookup(parameters);
  const problems: TemplateProblem[] = [];
  const resolve = (path: string, source: string): string => {
    try {
      return resolveFormatString(source, lookup);
    } catch (err) {
      if (!(err instanceof FormatStringError)) throw err;
      problems.push({ path, message: err.message });
      return '';
    }
  };
  const name = resolve('name', template.name);
  if (name.length > 128) problems.push({ path: 'name', message: `the job name is longer than 128 characters once resolved` });
  if (/[\u0000-\u001f\u007f-\u009f]/.test(name)) problems.push({ path: 'name', message: 'the job name contains control characters once resolved' });

  const index = new Map(template.steps.map((s, i) => [s.name, i]));
  let total = 0;
  const steps: ExpandedStep[] = template.steps.map((step, i) => {
    const at = `steps[${i}]`;
    const defs: TaskParameterDefinition[] = step.parameterSpace?.taskParameterDefinitions ?? [];
    const values = new Map<string, string[]>();
    defs.forEach((def, k) => {
      const path = `${at}.parameterSpace.taskParameterDefinitions[${k}].range`;
      values.set(def.name, taskParameterValues(def, path, (p, s) => resolve(p, s), maxTasks, problems));
    });
    const counts = new Map([...values].map(([k, v]) => [k, v.length]));
    let expr: CombinationExpr | null = null;
    let size = 1;
    if (defs.length > 0) {
      expr = step.parameterSpace?.combination ? parseCombination(step.parameterSpace.combination) : { product: defs.map((d) => ({ param: d.name })) };
      try {
        size = combinationSize(expr, counts);
      } catch (err) {
        if (!(err instanceof CombinationError)) throw err;
        problems.push({ path: `${at}.parameterSpace.combination`, message: err.message });
        size = 0;
      }
    }
    total += size;
    const tasks: Record<string, string>[] = [];
    if (expr && total <= maxTasks && problems.length === 0) {
      const { columns } = combinationColumns(expr, counts);
      const named = defs.map((d) => [d.name, values.get(d.name)!, columns.get(d.name)!] as const);
      for (let i = 0; i < size; i++) {
        const task: Record<string, string> = {};
        for (const [name, vals, col] of named) task[name] = vals[col[i]!]!;
        tasks.push(task);
      }
    } else if (!expr) {
      tasks.push({});
    }
    const req = step.hostRequirements;
    return {
      name: step.name,
      dependsOn: (step.dependencies ?? []).map((d) => index.get(d.dependsOn)!),
      hostRequirements: req
        ? {
            ...(req.amounts ? { amounts: req.amounts } : {}),
            ...(req.attributes
              ? {
                  attributes: req.attributes.map((a, k) => ({
                    name: a.name,
                    ...(a.anyOf ? { anyOf: a.anyOf.map((v) => resolve(`${at}.hostRequirements.attributes[${k}].anyOf`, v)) } : {}),
                    ...(a.allOf ? { allOf: a.allOf.map((v) => resolve(`${at}.hostRequirements.attributes[${k}].allOf`, v)) } : {}),
                  })),
                }
              : {}),
          }
        : null,
      parameterTypes: Object.fromEntries(defs.map((d) => [d.name, d.type])),
      tasks,
    };
  });
  if (total > maxTasks) {
    problems.push({ path: 'steps', message: `the job would have ${total} tasks, more than the farm's limit of ${maxTasks} tasks per job` });
  }
  if (problems.length > 0) throw new TemplateError(problems);
  return { name, parameters: Object.fromEntries(parameters), steps, taskCount: total };
}

const INT_TEXT = /^[+-]?\d+$/;

function taskParameterValues(def: TaskParameterDefinition, path: string, resolve: (path: string, s: string) => string, limit: number, problems: TemplateProblem[]): string[] {
  if (def.type === 'INT' && typeof def.range === 'string') {
    try {
      return parseRangeExpr(resolve(path, def.range), limit).map(String);
    } catch (err) {
      if (!(err instanceof RangeExprError)) throw err;
      problems.push({ path, message: err.message });
      return [];
    }
  }
  const list = def.range as (string | number)[];
  const out: string[] = [];
  list.forEach((raw, j) => {
    const text = typeof raw === 'string' ? resolve(`${path}[${j}]`, raw) : String(raw);
    if (def.type === 'INT') {
      if (!INT_TEXT.test(text.trim()) || !Number.isSafeInteger(Number(text))) problems.push({ path: `${path}[${j}]`, message: `"${text}" is not an integer` });
      else out.push(String(Number(text)));
    } else if (def.type === 'FLOAT') {
      if (text.trim() === '' || !Number.isFinite(Number(text))) problems.push({ path: `${path}[${j}]`, message: `"${text}" is not a number` });
      else out.push(text.trim());
    } else {
      if (text.length === 0 || text.length > 1024) problems.push({ path: `${path}[${j}]`, message: 'a value must be 1 to 1024 characters once resolved' });
      out.push(text);
    }
  });
  return out;
}
