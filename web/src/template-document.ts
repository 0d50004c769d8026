// A job template file read in the browser: YAML or JSON parsed, then checked and expanded with the
// same core rules the CLI and the coordinator use. Loaded on demand (the template form only), so
// the YAML parser and the schema checker stay out of the main bundle.
import { parse as parseYaml } from 'yaml';
import { expandTemplate } from '../../src/core/templates/expand.ts';
import { ParameterError, type ParameterInput } from '../../src/core/templates/parameters.ts';
import { TemplateError, describeProblem } from '../../src/core/templates/problems.ts';
import type { JobTemplate } from '../../src/core/templates/template.ts';
import { checkTemplate } from '../../src/core/templates/validate.ts';

export type { JobTemplate, JobParameterDefinition } from '../../src/core/templates/template.ts';

export interface ReadTemplate {
  doc: unknown;
  template: JobTemplate;
}

/** The template in `text` (a file named `name`), or an Error whose message lists each problem. */
export function readTemplate(name: string, text: string): ReadTemplate {
  let doc: unknown;
  try {
    doc = /\.json$/i.test(name) ? JSON.parse(text) : parseYaml(text, { uniqueKeys: true });
  } catch (e) {
    throw new Error(`${name} is not valid ${/\.json$/i.test(name) ? 'JSON' : 'YAML'}: ${(e as Error).message.split('\n')[0]}`);
  }
  try {
    return { doc, template: checkTemplate(doc) };
  } catch (e) {
    if (e instanceof TemplateError) throw new Error(`${name} is not a valid job template: ${e.problems.slice(0, 8).map(describeProblem).join('; ')}`);
    throw e;
  }
}

/** The job the values make: its name and tasks per step, or a sentence saying what is wrong. */
export function previewJob(template: JobTemplate, values: Record<string, ParameterInput>): { name: string; steps: { name: string; tasks: number; after: string[] }[]; tasks: number } | { problem: string } {
  try {
    const job = expandTemplate(template, values);
    return { name: job.name, tasks: job.taskCount, steps: job.steps.map((s) => ({ name: s.name, tasks: s.tasks.length, after: s.dependsOn.map((d) => job.steps[d]!.name) })) };
  } catch (e) {
    if (e instanceof TemplateError) return { problem: e.problems.map(describeProblem).join('; ') };
    if (e instanceof ParameterError) return { problem: e.message };
    throw e;
  }
}
