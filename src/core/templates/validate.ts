// Checks a parsed job template document: its shape (unknown keys, types), then the rules the
// schema cannot say (unique names, dependencies that exist and make no cycle, format strings that
// name only values available where they stand, parameter defaults within their constraints).
// Every problem comes with its path in the document. Pure: no I/O.
import { Value } from '@sinclair/typebox/value';
import type { TSchema } from '@sinclair/typebox';
import { CombinationError, combinationParams, parseCombination } from './combination.js';
import { FormatStringError, formatReferences } from './format-string.js';
import { parameterValueProblem } from './parameters.js';
import { TemplateError, type TemplateProblem, pointerToPath } from './problems.js';
import { RangeExprError, parseRangeExpr } from './range-expr.js';
import {
  type Environment,
  JOB_PARAMETER_SCHEMAS,
  type JobParameterDefinition,
  type JobTemplate,
  JobTemplateSchema,
  SPECIFICATION_VERSION,
  TASK_PARAMETER_SCHEMAS,
  type TaskParameterDefinition,
} from './template.js';

/** The template if it is valid; otherwise throws TemplateError with every problem found. */
export function checkTemplate(doc: unknown): JobTemplate {
  const problems = templateProblems(doc);
  if (problems.length > 0) throw new TemplateError(problems);
  return doc as JobTemplate;
}

function schemaProblems(schema: TSchema, value: unknown, base: string): TemplateProblem[] {
  const out: TemplateProblem[] = [];
  for (const e of Value.Errors(schema, value)) {
    const path = pointerToPath(base + e.path);
    // Unions report a mismatch per branch; the first problem at each path says enough.
    if (out.some((p) => p.path === path)) continue;
    const message = e.message === 'Unexpected property' ? `unknown key "${e.path.split('/').pop()}"` : e.message.replace(/^Expected/, 'expected');
    out.push({ path, message });
    if (out.length >= 20) break;
  }
  return out;
}

export function templateProblems(doc: unknown): TemplateProblem[] {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return [{ path: '', message: 'a job template is a mapping (an object) at its top level' }];
  const top = doc as Record<string, unknown>;
  if (top.specificationVersion !== SPECIFICATION_VERSION) {
    return [{ path: 'specificationVersion', message: `"${String(top.specificationVersion ?? '')}" is not supported: Drover runs job templates of specificationVersion "${SPECIFICATION_VERSION}"` }];
  }
  if (Array.isArray(top.extensions) && top.extensions.length > 0) {
    return [{ path: 'extensions', message: `extension(s) ${top.extensions.map((e) => `"${String(e)}"`).join(', ')} are not supported by Drover yet` }];
  }
  const problems = schemaProblems(JobTemplateSchema, doc, '');
  if (problems.length > 0) return problems;

  const jobParams = (top.parameterDefinitions ?? []) as Record<string, unknown>[];
  jobParams.forEach((p, i) => problems.push(...typedProblems(JOB_PARAMETER_SCHEMAS, p, `/parameterDefinitions/${i}`, 'job parameter')));
  const steps = top.steps as Record<string, unknown>[];
  steps.forEach((s, i) => {
    const defs = ((s.parameterSpace as { taskParameterDefinitions?: unknown[] } | undefined)?.taskParameterDefinitions ?? []) as Record<string, unknown>[];
    defs.forEach((d, k) => problems.push(...typedProblems(TASK_PARAMETER_SCHEMAS, d, `/steps/${i}/parameterSpace/taskParameterDefinitions/${k}`, 'task parameter')));
  });
  if (problems.length > 0) return problems;
  return ruleProblems(doc as JobTemplate);
}

function typedProblems(schemas: Record<string, TSchema>, def: Record<string, unknown>, base: string, what: string): TemplateProblem[] {
  const schema = typeof def.type === 'string' ? schemas[def.type] : undefined;
  if (!schema) return [{ path: pointerToPath(`${base}/type`), message: `${what} type "${String(def.type)}" is not one of ${Object.keys(schemas).join(', ')}` }];
  return schemaProblems(schema, def, base);
}

function duplicates(names: readonly string[]): string[] {
  const seen = new Set<string>();
  return [...new Set(names.filter((n) => seen.has(n) || !seen.add(n)))];
}

/** The rules beyond the shape. */
function ruleProblems(t: JobTemplate): TemplateProblem[] {
  const problems: TemplateProblem[] = [];
  const add = (path: string, message: string) => problems.push({ path, message });
  const params = t.parameterDefinitions ?? [];
  for (const d of duplicates(params.map((p) => p.name))) add('parameterDefinitions', `parameter "${d}" is defined twice`);
  params.forEach((p, i) => {
    const problem = parameterDefinitionProblem(p);
    if (problem) add(`parameterDefinitions[${i}]`, problem);
  });

  const stepNames = t.steps.map((s) => s.name);
  for (const d of duplicates(stepNames)) add('steps', `step "${d}" is defined twice`);
  const jobEnvNames = (t.jobEnvironments ?? []).map((e) => e.name);
  for (const d of duplicates(jobEnvNames)) add('jobEnvironments', `environment "${d}" is defined twice`);

  // Values known when the job is made, and on the host.
  const paramRefs = new Set<string>();
  for (const p of params) {
    paramRefs.add(`RawParam.${p.name}`);
    if (p.type !== 'PATH') paramRefs.add(`Param.${p.name}`);
  }
  const hostParamRefs = new Set([...paramRefs, ...params.filter((p) => p.type === 'PATH').map((p) => `Param.${p.name}`)]);
  const session = ['Session.WorkingDirectory', 'Session.HasPathMappingRules', 'Session.PathMappingRulesFile'];
  const checkFormat = (path: string, source: string, allowed: ReadonlySet<string>) => {
    try {
      for (const ref of formatReferences(source)) {
        if (!allowed.has(ref)) add(path, `{{${ref}}} names ${describeUnknownRef(ref, params.map((p) => p.name))}`);
      }
    } catch (err) {
      if (err instanceof FormatStringError) add(path, err.message);
      else throw err;
    }
  };
  checkFormat('name', t.name, paramRefs);
  const envProblems = (env: Environment, path: string) => {
    const allowed = new Set([...hostParamRefs, ...session, ...(env.script?.embeddedFiles ?? []).map((f) => `Env.File.${f.name}`)]);
    const actions = env.script?.actions;
    if (actions) {
      for (const [key, action] of Object.entries(actions)) {
        if (!action) continue;
        checkFormat(`${path}.script.actions.${key}.command`, action.command, allowed);
        (action.args ?? []).forEach((a, k) => checkFormat(`${path}.script.actions.${key}.args[${k}]`, a, allowed));
      }
    }
    (env.script?.embeddedFiles ?? []).forEach((f, k) => checkFormat(`${path}.script.embeddedFiles[${k}].data`, f.data, allowed));
    for (const d of duplicates((env.script?.embeddedFiles ?? []).map((f) => f.name))) add(`${path}.script.embeddedFiles`, `embedded file "${d}" is defined twice`);
    for (const [k, v] of Object.entries(env.variables ?? {})) checkFormat(`${path}.variables.${k}`, v, allowed);
    if (!env.script && !env.variables) add(path, 'an environment needs a script or variables');
  };
  (t.jobEnvironments ?? []).forEach((e, i) => envProblems(e, `jobEnvironments[${i}]`));

  t.steps.forEach((step, i) => {
    const at = `steps[${i}]`;
    const stepEnvNames = (step.stepEnvironments ?? []).map((e) => e.name);
    for (const d of duplicates(stepEnvNames)) add(`${at}.stepEnvironments`, `environment "${d}" is defined twice`);
    for (const n of stepEnvNames) if (jobEnvNames.includes(n)) add(`${at}.stepEnvironments`, `environment "${n}" has the name of a job environment`);
    (step.stepEnvironments ?? []).forEach((e, k) => envProblems(e, `${at}.stepEnvironments[${k}]`));

    (step.dependencies ?? []).forEach((d, k) => {
      if (d.dependsOn === step.name) add(`${at}.dependencies[${k}].dependsOn`, `step "${step.name}" depends on itself`);
      else if (!stepNames.includes(d.dependsOn)) add(`${at}.dependencies[${k}].dependsOn`, `step "${step.name}" depends on "${d.dependsOn}", which is not a step of this template (steps: ${stepNames.join(', ')})`);
    });

    const space = step.parameterSpace;
    const taskDefs: TaskParameterDefinition[] = space?.taskParameterDefinitions ?? [];
    for (const d of duplicates(taskDefs.map((p) => p.name))) add(`${at}.parameterSpace.taskParameterDefinitions`, `task parameter "${d}" is defined twice`);
    taskDefs.forEach((def, k) => {
      const path = `${at}.parameterSpace.taskParameterDefinitions[${k}].range`;
      if (typeof def.range === 'string') checkFormat(path, def.range, paramRefs);
      else def.range.forEach((v, j) => typeof v === 'string' && checkFormat(`${path}[${j}]`, v, paramRefs));
      if (typeof def.range === 'string' && formatReferences(safeRefs(def.range)).length === 0) {
        try {
          parseRangeExpr(def.range, 100_000_000);
        } catch (err) {
          if (err instanceof RangeExprError) add(path, err.message);
          else throw err;
        }
      }
    });
    if (space?.combination !== undefined) {
      try {
        const used = combinationParams(parseCombination(space.combination));
        for (const d of duplicates(used)) add(`${at}.parameterSpace.combination`, `task parameter "${d}" appears more than once`);
        for (const u of used) if (!taskDefs.some((p) => p.name === u)) add(`${at}.parameterSpace.combination`, `"${u}" is not a task parameter of this step`);
        for (const p of taskDefs) if (!used.includes(p.name)) add(`${at}.parameterSpace.combination`, `task parameter "${p.name}" is missing from the expression`);
      } catch (err) {
        if (err instanceof CombinationError) add(`${at}.parameterSpace.combination`, err.message);
        else throw err;
      }
    }

    const files = step.script.embeddedFiles ?? [];
    for (const d of duplicates(files.map((f) => f.name))) add(`${at}.script.embeddedFiles`, `embedded file "${d}" is defined twice`);
    const allowed = new Set([
      ...hostParamRefs,
      ...session,
      ...taskDefs.flatMap((p) => [`Task.Param.${p.name}`, `Task.RawParam.${p.name}`]),
      ...files.map((f) => `Task.File.${f.name}`),
    ]);
    const onRun = step.script.actions.onRun;
    checkFormat(`${at}.script.actions.onRun.command`, onRun.command, allowed);
    (onRun.args ?? []).forEach((a, k) => checkFormat(`${at}.script.actions.onRun.args[${k}]`, a, allowed));
    files.forEach((f, k) => checkFormat(`${at}.script.embeddedFiles[${k}].data`, f.data, allowed));
    (step.hostRequirements?.attributes ?? []).forEach((a, k) =>
      [...(a.anyOf ?? []), ...(a.allOf ?? [])].forEach((v) => checkFormat(`${at}.hostRequirements.attributes[${k}]`, v, paramRefs)),
    );
    const req = step.hostRequirements;
    if (req && !req.amounts && !req.attributes) add(`${at}.hostRequirements`, 'host requirements need amounts or attributes');
    (req?.amounts ?? []).forEach((a, k) => {
      if (a.min === undefined && a.max === undefined) add(`${at}.hostRequirements.amounts[${k}]`, 'an amount needs min or max');
      if (a.min !== undefined && a.max !== undefined && a.min > a.max) add(`${at}.hostRequirements.amounts[${k}]`, `min ${a.min} is above max ${a.max}`);
    });
    (req?.attributes ?? []).forEach((a, k) => {
      if (!a.anyOf && !a.allOf) add(`${at}.hostRequirements.attributes[${k}]`, 'an attribute needs anyOf or allOf');
    });
  });
  const cycle = dependencyCycle(t);
  if (cycle) add('steps', `the step dependencies form a cycle: ${[...cycle, cycle[0]].map((n) => `"${n}"`).join(' → ')}`);
  return problems;
}

/** A format string's text with malformed interpolations dropped (they are reported elsewhere). */
function safeRefs(source: string): string {
  try {
    formatReferences(source);
    return source;
  } catch {
    return '';
  }
}

function describeUnknownRef(ref: string, params: readonly string[]): string {
  const m = /^(Param|RawParam)\.(.+)$/.exec(ref);
  if (m && !params.includes(m[2]!)) return `a parameter that does not exist (parameters: ${params.join(', ') || 'none'})`;
  if (m) return 'a PATH parameter, whose mapped value exists only on the host (use RawParam here)';
  if (/^Task\./.test(ref)) return 'a task value that does not exist in this step';
  if (/^Env\./.test(ref)) return 'an environment value that does not exist here';
  return 'no value available here';
}

function parameterDefinitionProblem(p: JobParameterDefinition): string | null {
  if (p.type === 'INT' || p.type === 'FLOAT') {
    for (const key of ['minValue', 'maxValue'] as const) {
      const v = p[key];
      if (v !== undefined && !Number.isFinite(Number(v))) return `${key} "${v}" is not a number`;
    }
    if (p.minValue !== undefined && p.maxValue !== undefined && Number(p.minValue) > Number(p.maxValue)) return `minValue ${p.minValue} is above maxValue ${p.maxValue}`;
  } else if (p.minLength !== undefined && p.maxLength !== undefined && p.minLength > p.maxLength) {
    return `minLength ${p.minLength} is above maxLength ${p.maxLength}`;
  }
  if (p.default !== undefined) {
    const problem = parameterValueProblem(p, p.default);
    if (problem) return `its default does not fit: ${problem}`;
  }
  return null;
}

/** A cycle among the steps' dependencies (its step names, in order), or null. */
export function dependencyCycle(t: Pick<JobTemplate, 'steps'>): string[] | null {
  const deps = new Map(t.steps.map((s) => [s.name, (s.dependencies ?? []).map((d) => d.dependsOn)]));
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (name: string): string[] | null => {
    if (state.get(name) === 'done') return null;
    if (state.get(name) === 'visiting') return stack.slice(stack.indexOf(name));
    state.set(name, 'visiting');
    stack.push(name);
    for (const d of deps.get(name) ?? []) {
      if (!deps.has(d)) continue;
      const found = visit(d);
      if (found) return found;
    }
    stack.pop();
    state.set(name, 'done');
    return null;
  };
  for (const s of t.steps) {
    const found = visit(s.name);
    if (found) return found;
  }
  return null;
}
