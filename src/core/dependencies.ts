// Job dependencies (`--after`): what a held job does given the state of the jobs it waits for. Pure.
import { isTerminalJob, type JobStatus } from './states.js';

export type DependencyOutcome = { kind: 'wait'; on: string[] } | { kind: 'release' } | { kind: 'cancel'; reason: string };

/**
 * `--after`: released once every job it waits for is done, canceled (with the reason) as soon as
 * one of them ends in error or is canceled. `--after-any` (`any`): released once all have ended.
 */
export function dependencyOutcome(any: boolean, deps: readonly { id: string; status: JobStatus }[]): DependencyOutcome {
  if (!any) {
    const failed = deps.find((d) => d.status === 'error' || d.status === 'canceled');
    if (failed) return { kind: 'cancel', reason: `job ${failed.id}, which it waits for (--after), ended ${failed.status}` };
  }
  const open = deps.filter((d) => (any ? !isTerminalJob(d.status) : d.status !== 'done'));
  return open.length > 0 ? { kind: 'wait', on: open.map((d) => d.id) } : { kind: 'release' };
}

/** The `waiting` sentence of a held job. */
export function waitingForJobs(ids: readonly string[]): string {
  return ids.length === 1 ? `waiting for job ${ids[0]}` : `waiting for jobs ${ids.join(', ')}`;
}
