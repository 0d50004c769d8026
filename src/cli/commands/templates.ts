// `drover job submit TEMPLATE` and `drover job template check TEMPLATE`: Open Job Description job
// templates and bundles, with their PATH parameters' data uploaded content-addressed.
// The YAML parser, the template checker (TypeBox) and the glob walker are loaded by the commands
// that use them: every `drover` run registers these commands, and loading those packages was
// about a third of the JavaScript each run of any command parsed.
import { stat } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { INSTANCE_TYPES, type InstanceType } from '../../core/instance-types.js';
import { expandTemplate } from '../../core/templates/expand.js';
import { ParameterError, type ParameterInput } from '../../core/templates/parameters.js';
import { TemplateError, describeProblem } from '../../core/templates/problems.js';
import type { JobTemplate } from '../../core/templates/template.js';
import type { JobView } from '../../wire/jobs.js';
import { type SchedulingOptions, addSchedulingOptions, positiveInt, runFields } from '../parse.js';
import { CliError, signedInClient } from '../session.js';
import type { LoadedTemplate } from '../template-bundle.js';
import { uploadFiles } from '../upload.js';
import { followSubmission } from './jobs.js';
import type { TemplateJobBody } from '../../wire/templates.js';

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** The template, or a CliError listing every problem with its place in the document. */
async function checked(loaded: LoadedTemplate): Promise<JobTemplate> {
  const { checkTemplate } = await import('../../core/templates/validate.js');
  try {
    return checkTemplate(loaded.doc);
  } catch (err) {
    if (err instanceof TemplateError) throw new CliError(`${loaded.file} is not a valid job template:\n${err.problems.map((p) => `  ${describeProblem(p)}`).join('\n')}`);
    throw err;
  }
}

/**
 * Parameter values: the bundle's, then -p's. A relative PATH value is made absolute from where it
 * came: -p values from the current directory, bundle values and defaults from the template's folder.
 */
function parameterValues(template: JobTemplate, loaded: LoadedTemplate, given: Record<string, string>): Record<string, ParameterInput> {
  const values: Record<string, ParameterInput> = { ...loaded.bundleValues, ...given };
  for (const def of template.parameterDefinitions ?? []) {
    if (def.type !== 'PATH') continue;
    const fromCli = Object.prototype.hasOwnProperty.call(given, def.name);
    const raw = values[def.name] ?? def.default;
    if (raw === undefined || typeof raw !== 'string' || raw === '' || /^[a-z][a-z0-9+.-]*:\/\//i.test(raw)) continue;
    values[def.name] = isAbsolute(raw) ? raw : resolve(fromCli ? process.cwd() : loaded.dir, raw);
  }
  return values;
}

function expanded(template: JobTemplate, values: Record<string, ParameterInput>) {
  try {
    return expandTemplate(template, values, { maxTasks: Number.MAX_SAFE_INTEGER });
  } catch (err) {
    if (err instanceof TemplateError) throw new CliError(`the job cannot be made from this template:\n${err.problems.map((p) => `  ${describeProblem(p)}`).join('\n')}`);
    if (err instanceof ParameterError) throw new CliError(err.message);
    throw err;
  }
}

/** The local files of each IN/INOUT PATH parameter, named relative to its file's folder or its directory. */
async function dataFiles(template: JobTemplate, values: Record<string, ParameterInput>): Promise<Map<string, { name: string; absPath: string }[]>> {
  const out = new Map<string, { name: string; absPath: string }[]>();
  for (const def of template.parameterDefinitions ?? []) {
    if (def.type !== 'PATH' || (def.dataFlow !== 'IN' && def.dataFlow !== 'INOUT')) continue;
    const path = String(values[def.name]);
    const info = await stat(path).catch(() => null);
    if (!info) {
      if (def.dataFlow === 'INOUT') {
        out.set(def.name, []);
        continue;
      }
      throw new CliError(`parameter ${def.name} is an input (dataFlow IN), but ${path} does not exist`);
    }
    if (info.isFile()) {
      out.set(def.name, [{ name: path.split('/').pop()!, absPath: path }]);
      continue;
    }
    if (def.objectType === 'FILE') throw new CliError(`parameter ${def.name} is a FILE, but ${path} is a folder`);
    const { glob } = await import('tinyglobby');
    const found = await glob('**/*', { cwd: path, dot: true, onlyFiles: true, followSymbolicLinks: false });
    out.set(def.name, found.sort().map((rel) => ({ name: rel, absPath: join(path, rel) })));
  }
  return out;
}

export function registerTemplateCommands(job: Command): void {
  addSchedulingOptions(
    job
      .command('submit <template>')
      .description('a job from an Open Job Description template (.yaml/.json) or job bundle folder')
      .option('-p, --param <NAME=VALUE>', 'a job parameter value (repeatable)', collect, [])
      .option('-t, --instance-type <type>', `cores each task asks for: ${INSTANCE_TYPES.join(', ')}`, 's')
      .option('--max-attempts <n>', 'attempts before a task errors', positiveInt('--max-attempts')),
  )
    .option('--timeout <seconds>', 'kill a task that runs longer', positiveInt('--timeout'))
    .option('--image <image>', 'run tasks in this container image')
    .option('--no-network', 'tasks get no network (they have it by default)')
    .option('-r, --run', 'queue the job at once', false)
    .option('-w, --wait', 'follow the job to its end; exit non-zero unless it is done', false)
    .option('-d, --dir <outdir>', 'with --wait: download the results here')
    .option('--json', 'machine-readable output')
    .action(async (path: string, opts: { dir?: string; param: string[]; instanceType: string; maxAttempts?: number; timeout?: number;  image?: string; network: boolean; run: boolean; wait: boolean; json?: boolean } & SchedulingOptions) => {
      if (!INSTANCE_TYPES.includes(opts.instanceType as never)) throw new CliError(`-t must be one of ${INSTANCE_TYPES.join(', ')}, not "${opts.instanceType}"`);
      if (opts.dir && !opts.wait) throw new CliError('-d goes with --wait');
      const { loadTemplate, parseParameterOptions } = await import('../template-bundle.js');
      const loaded = await loadTemplate(path);
      const template = await checked(loaded);
      const values = parameterValues(template, loaded, parseParameterOptions(opts.param));
      expanded(template, values);
      const locals = await dataFiles(template, values);
      const client = await signedInClient();
      const all = [...locals.entries()].flatMap(([param, files]) => files.map((f) => ({ param, ...f })));
      const uploaded = all.length > 0 ? await uploadFiles(client, all, { quiet: opts.json ?? false }) : { files: [] };
      const files: Record<string, { path: string; sha256: string }[]> = {};
      for (const name of locals.keys()) files[name] = [];
      all.forEach((f, i) => files[f.param]!.push({ path: f.name, sha256: uploaded.files[i]!.sha256 }));
      const created = await client.json<JobView, TemplateJobBody>('POST', '/jobs', {
        kind: 'template',
        template: loaded.doc as TemplateJobBody['template'], // checked above (checked(loaded))
        parameters: values,
        ...(Object.keys(files).length > 0 ? { files } : {}),
        instanceType: opts.instanceType as InstanceType, // checked against INSTANCE_TYPES above
        start: opts.run || opts.wait,
        ...runFields(opts),
        ...(opts.network ? {} : { network: false }),
      });
      const steps = created.steps?.map((s) => `${s.name} (${s.taskCount})`).join(', ') ?? '';
      await followSubmission(client, created, opts, `${created.taskCount} task(s) in steps ${steps}`);
    });

  job
    .command('template')
    .description('job templates')
    .command('check <template>')
    .description('validate a job template or bundle without submitting it (with -p, the parameter values too)')
    .option('-p, --param <NAME=VALUE>', 'a job parameter value (repeatable)', collect, [])
    .action(async (path: string, opts: { param: string[] }) => {
      const { loadTemplate, parseParameterOptions } = await import('../template-bundle.js');
      const loaded = await loadTemplate(path);
      const template = await checked(loaded);
      const missing = (template.parameterDefinitions ?? []).filter((d) => d.default === undefined && !(d.name in loaded.bundleValues) && !opts.param.some((p) => p.startsWith(`${d.name}=`)));
      if (missing.length > 0) {
        console.log(`${loaded.file}: a valid job template with ${template.steps.length} step(s); give ${missing.map((d) => d.name).join(', ')} with -p to check the job it makes`);
        return;
      }
      const job = expanded(template, parameterValues(template, loaded, parseParameterOptions(opts.param)));
      console.log(`${loaded.file}: a valid job template: "${job.name}", ${job.taskCount} task(s)`);
      for (const s of job.steps) console.log(`  step "${s.name}": ${s.tasks.length} task(s)${s.dependsOn.length ? `, after ${s.dependsOn.map((d) => `"${job.steps[d]!.name}"`).join(', ')}` : ''}`);
    });
}
