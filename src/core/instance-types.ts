// Instance types name how many cores a task asks for, as in the original workflow's job sizes, and
// `gpu` a GPU machine as the original platform offered: one GPU beside the cores of an `m`.
import type { JobRequirements } from './job-requirements.js';

export const INSTANCE_TYPES = ['s', 'm', 'l', 'xl', 'gpu'] as const;
export type InstanceType = (typeof INSTANCE_TYPES)[number];

export type InstanceTypeCores = Record<InstanceType, number>;

export const DEFAULT_INSTANCE_CORES: InstanceTypeCores = { s: 1, m: 4, l: 8, xl: 16, gpu: 4 };

/** GPUs each task of an instance type asks for (a job's own `--gpus` wins). */
export const INSTANCE_GPUS: Record<InstanceType, number> = { s: 0, m: 0, l: 0, xl: 0, gpu: 1 };

/** A job's requirements with its instance type's GPUs, unless it names its own `--gpus`. */
export function withInstanceGpus(req: JobRequirements | undefined, type: InstanceType): JobRequirements | undefined {
  const gpus = INSTANCE_GPUS[type];
  if (!gpus || req?.gpus !== undefined) return req;
  return { ...req, gpus };
}

/** Reads `s=1,m=4,l=8,xl=16` (any subset) over the defaults; throws on anything else. */
export function parseInstanceCores(text: string | undefined, base = DEFAULT_INSTANCE_CORES): InstanceTypeCores {
  const result = { ...base };
  if (!text) return result;
  for (const part of text.split(',')) {
    const [name, value] = part.split('=').map((s) => s.trim());
    const cores = Number(value);
    if (!INSTANCE_TYPES.includes(name as InstanceType) || !Number.isInteger(cores) || cores < 1) {
      throw new Error(`invalid instance type setting "${part}": expected NAME=CORES with NAME one of ${INSTANCE_TYPES.join(', ')}`);
    }
    result[name as InstanceType] = cores;
  }
  return result;
}
