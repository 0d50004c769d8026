// Job parameter values (jobtemplate-2023-09 §2): what was given or defaulted, checked against its
// definition's type and constraints. Values are kept as the strings format strings interpolate.
// Pure: no I/O.
import type { JobParameterDefinition } from './template.js';

export type ParameterInput = string | number | boolean;

/** A job parameter's value, as format strings see it. */
export interface ParameterValue {
  type: JobParameterDefinition['type'];
  value: string;
}

const INT = /^[+-]?\d+$/;
const FLOAT = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** The value as the definition's type would write it, or a reason it is not of that type. */
function normalize(def: JobParameterDefinition, raw: ParameterInput): { value: string } | { problem: string } {
  if (typeof raw === 'boolean') return { problem: `expects ${article(def.type)} ${def.type}, not a boolean` };
  const text = String(raw).trim();
  switch (def.type) {
    case 'INT':
      if (typeof raw === 'number' ? !Number.isSafeInteger(raw) : !INT.test(text) || !Number.isSafeInteger(Number(text))) return { problem: `expects an integer, not "${raw}"` };
      return { value: String(Number(text)) };
    case 'FLOAT':
      if (typeof raw === 'number' ? !Number.isFinite(raw) : !FLOAT.test(text)) return { problem: `expects a number, not "${raw}"` };
      return { value: String(raw) };
    default:
      return { value: String(raw) };
  }
}

function article(type: string): string {
  return /^[AEIOU]/.test(type) ? 'an' : 'a';
}

/** Why `value` (already normalized) breaks the definition's constraints, or null. */
export function parameterValueProblem(def: JobParameterDefinition, raw: ParameterInput): string | null {
  const n = normalize(def, raw);
  if ('problem' in n) return n.problem;
  const value = n.value;
  if (def.type === 'INT' || def.type === 'FLOAT') {
    const x = Number(value);
    if (def.minValue !== undefined && x < Number(def.minValue)) return `${value} is below the minimum ${def.minValue}`;
    if (def.maxValue !== undefined && x > Number(def.maxValue)) return `${value} is above the maximum ${def.maxValue}`;
    if (def.allowedValues && !def.allowedValues.some((a) => Number(a) === x)) return `${value} is not one of the allowed values ${def.allowedValues.join(', ')}`;
    return null;
  }
  if (def.minLength !== undefined && value.length < def.minLength) return `"${value}" is shorter than ${def.minLength} characters`;
  if (def.maxLength !== undefined && value.length > def.maxLength) return `"${value}" is longer than ${def.maxLength} characters`;
  if (def.allowedValues && !def.allowedValues.includes(value)) return `"${value}" is not one of the allowed values ${def.allowedValues.map((a) => `"${a}"`).join(', ')}`;
  return null;
}

export class ParameterError extends Error {}

/**
 * Every defined parameter's value: the one given, else its default. Refuses a value of the wrong
 * type or outside its constraints, a parameter without value or default, and a value for a
 * parameter the template does not define.
 */
export function resolveParameters(defs: readonly JobParameterDefinition[], given: Readonly<Record<string, ParameterInput>>): Map<string, ParameterValue> {
  const problems: string[] = [];
  const known = new Set(defs.map((d) => d.name));
  for (const name of Object.keys(given)) if (!known.has(name)) problems.push(`the template has no parameter "${name}" (it has: ${[...known].join(', ') || 'none'})`);
  const values = new Map<string, ParameterValue>();
  for (const def of defs) {
    const raw = Object.prototype.hasOwnProperty.call(given, def.name) ? given[def.name] : def.default;
    if (raw === undefined) {
      problems.push(`parameter ${def.name} needs a value (it has no default)`);
      continue;
    }
    const problem = parameterValueProblem(def, raw);
    if (problem) {
      problems.push(`parameter ${def.name}: ${problem}`);
      continue;
    }
    values.set(def.name, { type: def.type, value: (normalize(def, raw) as { value: string }).value });
  }
  if (problems.length > 0) throw new ParameterError(problems.join('; '));
  return values;
}
