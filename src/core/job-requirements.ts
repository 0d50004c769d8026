// What a job asks of the agent that runs its tasks beyond cores: memory, GPUs and labels
// (`--memory MiB`, `--gpus N`, `--require key=value`). Matched against an agent's reported facts
// when leasing; a job no online agent meets says so in `waiting`. Pure.
import type { HostFacts } from './templates/host-match.js';

export interface JobRequirements {
  memoryMiB?: number;
  gpus?: number;
  /** Labels the agent must carry with exactly these values (its `--label key=value`). */
  labels?: Record<string, string>;
}

const LABEL_KEY = /^[A-Za-z0-9][A-Za-z0-9_.\-/]{0,62}$/;

/** `key=value` of `--require`, or the reason it is not one. */
export function parseRequirement(text: string): { key: string; value: string } | { problem: string } {
  const eq = text.indexOf('=');
  if (eq <= 0) return { problem: `--require takes key=value (a label the agent must have, as its --label), not "${text}"` };
  const key = text.slice(0, eq).trim();
  const value = text.slice(eq + 1).trim();
  if (!LABEL_KEY.test(key)) return { problem: `--require: "${key}" is not a label name (letters, digits, _ . - /, at most 63)` };
  if (value.length === 0 || value.length > 200) return { problem: `--require ${key}=: give a value of 1 to 200 characters` };
  return { key, value };
}

/** Why `req` is not a valid set of requirements, or null. */
export function requirementsProblem(req: JobRequirements): string | null {
  for (const [key, value] of Object.entries(req.labels ?? {})) {
    const parsed = parseRequirement(`${key}=${value}`);
    if ('problem' in parsed) return parsed.problem;
  }
  return null;
}

/** True when the requirements ask for nothing. */
export function isEmpty(req: JobRequirements | null | undefined): boolean {
  return !req || (!req.memoryMiB && !req.gpus && Object.keys(req.labels ?? {}).length === 0);
}

/** Why `host` cannot run a job asking `req`, or null when it can. */
export function requirementMiss(req: JobRequirements, host: HostFacts): string | null {
  for (const [key, value] of Object.entries(req.labels ?? {})) {
    if (host.labels[key] !== value) return `has no label ${key}=${value}`;
  }
  if (req.gpus && host.gpus < req.gpus) return `has ${host.gpus} GPU${host.gpus === 1 ? '' : 's'}, the job asks for ${req.gpus}`;
  if (req.memoryMiB && host.memoryMiB < req.memoryMiB) return `has ${host.memoryMiB} MiB of memory, the job asks for ${req.memoryMiB}`;
  return null;
}

/** The `waiting` sentence when no online agent meets the job's requirements, or null when one does. */
export function noAgentMeets(req: JobRequirements, hosts: readonly { name: string; host: HostFacts }[]): string | null {
  if (hosts.length === 0 || isEmpty(req)) return null;
  const misses = hosts.map((h) => requirementMiss(req, h.host));
  if (misses.some((m) => m === null)) return null;
  const label = Object.entries(req.labels ?? {}).find(([k, v]) => hosts.every((h) => h.host.labels[k] !== v));
  if (label) return `no online agent has ${label[0]}=${label[1]}`;
  return `no online agent meets its requirements: ${hosts[0]!.name} ${misses[0]}`;
}
