// Whether an agent's host meets a step's host requirements (jobtemplate-2023-09 §3.3). Names and
// values compare case-insensitively. Pure: no I/O.
import type { HostRequirements } from './template.js';

/** What an agent tells of its host. */
export interface HostFacts {
  cores: number;
  memoryMiB: number;
  gpus: number;
  /** linux, windows, macos */
  os: string;
  /** x86_64, arm64 */
  arch: string;
  labels: Readonly<Record<string, string>>;
}

/** A host amount by capability name, or undefined when Drover does not know it. */
function amountOf(name: string, host: HostFacts): number | undefined {
  switch (name.toLowerCase()) {
    case 'amount.worker.vcpu':
      return host.cores;
    case 'amount.worker.memory':
      return host.memoryMiB;
    case 'amount.worker.gpu':
      return host.gpus;
    default:
      return undefined;
  }
}

/**
 * A host attribute's values: the OS and CPU architecture, and agent labels for the rest
 * (`attr.custom.tier` reads the label `tier`; a label's value may list several, comma-separated).
 */
function attributeOf(name: string, host: HostFacts): string[] {
  const lower = name.toLowerCase();
  if (lower === 'attr.worker.os.family') return [host.os.toLowerCase()];
  if (lower === 'attr.worker.cpu.arch') return [host.arch.toLowerCase()];
  const key = lower.startsWith('attr.custom.') ? lower.slice('attr.custom.'.length) : lower;
  for (const [k, v] of Object.entries(host.labels)) {
    if (k.toLowerCase() === key) return v.split(',').map((x) => x.trim().toLowerCase()).filter(Boolean);
  }
  return [];
}

/** Why the host does not meet the requirements (a sentence), or null when it does. */
export function hostRequirementProblem(req: HostRequirements | null | undefined, host: HostFacts): string | null {
  if (!req) return null;
  for (const a of req.amounts ?? []) {
    const have = amountOf(a.name, host);
    if (have === undefined) return `no agent offers the amount ${a.name}`;
    if (a.min !== undefined && have < a.min) return `needs ${a.name} of at least ${a.min} (the agent has ${have})`;
    if (a.max !== undefined && have > a.max) return `needs ${a.name} of at most ${a.max} (the agent has ${have})`;
  }
  for (const a of req.attributes ?? []) {
    const have = attributeOf(a.name, host);
    if (a.anyOf && !a.anyOf.some((v) => have.includes(v.toLowerCase()))) return `needs ${a.name} to be one of ${a.anyOf.join(', ')}${have.length ? ` (the agent has ${have.join(', ')})` : ''}`;
    if (a.allOf && !a.allOf.every((v) => have.includes(v.toLowerCase()))) return `needs ${a.name} to have all of ${a.allOf.join(', ')}${have.length ? ` (the agent has ${have.join(', ')})` : ''}`;
  }
  return null;
}

/** Host facts from an agent row's columns. */
export function hostFactsOf(row: { cores: number; memory_bytes: number; labels: string; attributes: string }): HostFacts {
  const attrs = JSON.parse(row.attributes || '{}') as { os?: string; arch?: string; gpus?: number };
  return {
    cores: row.cores,
    memoryMiB: Math.floor(row.memory_bytes / (1024 * 1024)),
    gpus: attrs.gpus ?? 0,
    os: attrs.os ?? 'linux',
    arch: attrs.arch ?? 'x86_64',
    labels: JSON.parse(row.labels || '{}') as Record<string, string>,
  };
}
