// Opaque, unguessable identifiers: random, so one user's IDs say nothing about another's.
import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';

export function randomId(prefix: string, length = 12): string {
  const bytes = randomBytes(length);
  let out = '';
  for (const b of bytes) out += ALPHABET[b % 32];
  return `${prefix}_${out}`;
}

/**
 * A task's id: its job's random id and its index, so a job's tasks sit side by side, in index order,
 * in every table and index keyed by task (the store leases and finishes them in that order, and a
 * commit then writes a few pages rather than one per task). It says nothing beyond the job's id,
 * which whoever sees the task knows anyway.
 */
export function taskId(jobId: string, index: number): string {
  return `t_${jobId.slice(jobId.indexOf('_') + 1)}_${index.toString(32).padStart(6, '0')}`;
}

/** A secret token: 32 random bytes, URL-safe, with a prefix that says what it is for. */
export function newSecret(prefix: string): string {
  return `${prefix}_${randomBytes(32).toString('base64url')}`;
}
