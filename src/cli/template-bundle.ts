// Reading a job template from disk: a `.yaml`/`.yml`/`.json` file, or a job bundle directory
// (`template.yaml|yml|json` and optional `parameter_values.yaml|yml|json`, as Deadline Cloud lays
// bundles out), and the parameter values it carries.
import { readFile, readdir, stat } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { ParameterInput } from '../core/templates/parameters.js';
import { ParameterValuesError, bundleParameterValues } from '../core/templates/parameter-values.js';
import { CliError } from './session.js';

export interface LoadedTemplate {
  doc: unknown;
  /** The template's folder: PATH defaults and bundle values are relative to it. */
  dir: string;
  file: string;
  /** Values from the bundle's parameter_values file. */
  bundleValues: Record<string, ParameterInput>;
}

async function parseFile(file: string): Promise<unknown> {
  const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new CliError(`cannot read ${file}: ${err.code === 'ENOENT' ? 'it does not exist' : err.message}`);
  });
  try {
    return extname(file).toLowerCase() === '.json' ? JSON.parse(text) : parseYaml(text, { uniqueKeys: true });
  } catch (err) {
    throw new CliError(`${file} is not valid ${extname(file).toLowerCase() === '.json' ? 'JSON' : 'YAML'}: ${(err as Error).message.split('\n')[0]}`);
  }
}

async function firstExisting(dir: string, names: readonly string[]): Promise<string | null> {
  const present = new Set(await readdir(dir));
  for (const n of names) if (present.has(n)) return join(dir, n);
  return null;
}

function valuesOf(doc: unknown, file: string): Record<string, ParameterInput> {
  try {
    return bundleParameterValues(doc);
  } catch (err) {
    if (err instanceof ParameterValuesError) throw new CliError(`${file}: ${err.message}`);
    throw err;
  }
}

export async function loadTemplate(path: string): Promise<LoadedTemplate> {
  const abs = resolve(path);
  const info = await stat(abs).catch(() => null);
  if (!info) throw new CliError(`${path} does not exist`);
  if (info.isDirectory()) {
    const file = await firstExisting(abs, ['template.yaml', 'template.yml', 'template.json']);
    if (!file) throw new CliError(`${path} is a folder without template.yaml or template.json: not a job bundle`);
    const valuesFile = await firstExisting(abs, ['parameter_values.yaml', 'parameter_values.yml', 'parameter_values.json']);
    return { doc: await parseFile(file), dir: abs, file, bundleValues: valuesFile ? valuesOf(await parseFile(valuesFile), valuesFile) : {} };
  }
  if (!['.yaml', '.yml', '.json'].includes(extname(abs).toLowerCase())) throw new CliError(`${path}: a job template is a .yaml, .yml or .json file, or a job bundle folder`);
  return { doc: await parseFile(abs), dir: resolve(abs, '..'), file: abs, bundleValues: {} };
}

/** `-p NAME=VALUE` options as values (kept as text: the template's types decide). */
export function parseParameterOptions(options: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const o of options) {
    const eq = o.indexOf('=');
    if (eq <= 0) throw new CliError(`-p takes NAME=VALUE, not "${o}"`);
    out[o.slice(0, eq)] = o.slice(eq + 1);
  }
  return out;
}
