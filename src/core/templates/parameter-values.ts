// The parameter values a job bundle carries (`parameter_values.yaml|json`): Deadline Cloud writes
// `parameterValues: [{name, value}]`, where names with a `:` (deadline:priority…) are the farm's own
// settings, not template parameters; a plain `name: value` mapping is accepted too. Pure: no I/O.
import type { ParameterInput } from './parameters.js';

export class ParameterValuesError extends Error {}

export function bundleParameterValues(doc: unknown): Record<string, ParameterInput> {
  if (doc === null || doc === undefined) return {};
  const isValue = (v: unknown): v is ParameterInput => ['string', 'number', 'boolean'].includes(typeof v);
  const out: Record<string, ParameterInput> = {};
  const list = (doc as { parameterValues?: unknown }).parameterValues;
  if (Array.isArray(list)) {
    for (const item of list as { name?: unknown; value?: unknown }[]) {
      if (typeof item?.name !== 'string' || !isValue(item.value)) throw new ParameterValuesError('each parameterValues entry needs a name and a value (a string, number or boolean)');
      if (!item.name.includes(':')) out[item.name] = item.value;
    }
    return out;
  }
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new ParameterValuesError('expected parameterValues: [{name, value}, …] or a mapping of name: value');
  for (const [k, v] of Object.entries(doc as Record<string, unknown>)) {
    if (!isValue(v)) throw new ParameterValuesError(`the value of ${k} is not a string, number or boolean`);
    out[k] = v;
  }
  return out;
}
