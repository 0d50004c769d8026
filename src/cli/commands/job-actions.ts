// `drover job start|stop|retry|archive|unarchive|delete ID…`: one action on several jobs, named or
// chosen by a filter, each job's outcome said on its own line (`--json`: stable records). `stop`
// and `retry` also act on some tasks of one job (`--task 2,5-9`, render jobs `--frames 10-20`).
import type { Command } from 'commander';
import type { ApiClient } from '../../client/api-client.js';
import { JOB_ACTIONS, MAX_BULK_JOBS, type JobAction } from '../../core/job-actions.js';
import { JOB_STATUSES } from '../../core/states.js';
import type { JobActionResult, JobActionResults, JobList, TaskActionAnswer } from '../../wire/jobs.js';
import { countsLine } from '../format.js';
import { ageMs } from '../parse.js';
import { CliError, signedInClient } from '../session.js';

interface Filters {
  status?: string;
  olderThan?: number;
  nameContains?: string;
  owner?: string;
}

const DESCRIPTIONS: Record<JobAction, string> = {
  start: 'queue created jobs',
  stop: 'cancel jobs (running tasks are killed), or with --task/--frames only those tasks of one job',
  retry: 'queue errored and canceled tasks again, or with --task/--frames exactly those tasks of one job (done ones too)',
  archive: 'hide finished jobs from the default lists and counts; everything is kept (job list --archived shows them)',
  unarchive: 'bring archived jobs back into the lists',
  delete: 'remove jobs for good: tasks, logs, results, frames; the files no other job uses are then collected (stop running jobs first)',
};

const DONE_WORDS: Record<JobAction, string> = { start: 'started', stop: 'stopped', retry: 'retried', archive: 'archived', unarchive: 'unarchived', delete: 'deleted' };

/** The ids of the jobs a filter matches, as the job list pages them (archived jobs for unarchive). */
async function matchingJobs(client: ApiClient, f: Filters, archived: boolean): Promise<string[]> {
  const ids: string[] = [];
  const before = f.olderThan !== undefined ? new Date(Date.now() - f.olderThan).toISOString() : undefined;
  for (let offset = 0; ; offset += 500) {
    const q = new URLSearchParams({
      offset: String(offset),
      limit: '500',
      ...(f.status ? { status: f.status } : {}),
      ...(f.nameContains ? { q: f.nameContains } : {}),
      ...(f.owner ? { owner: f.owner } : {}),
      ...(before ? { createdBefore: before } : {}),
      ...(archived ? { archived: 'true' } : {}),
    });
    const page = await client.json<JobList>('GET', `/jobs?${q}`);
    ids.push(...page.jobs.map((j) => j.id));
    if (page.jobs.length === 0 || ids.length >= page.total) return ids;
  }
}

function hasFilter(f: Filters): boolean {
  return f.status !== undefined || f.olderThan !== undefined || f.nameContains !== undefined || f.owner !== undefined;
}

async function actOnMany(client: ApiClient, action: JobAction, ids: readonly string[]): Promise<JobActionResult[]> {
  const results: JobActionResult[] = [];
  for (let i = 0; i < ids.length; i += MAX_BULK_JOBS) {
    const answer = await client.json<JobActionResults>('POST', '/jobs/actions', { action, ids: ids.slice(i, i + MAX_BULK_JOBS) });
    results.push(...answer.results);
  }
  return results;
}

function printResults(action: JobAction, results: readonly JobActionResult[], json: boolean | undefined): void {
  if (json) console.log(JSON.stringify({ action, results }, null, 2));
  for (const r of results) {
    if (json) continue;
    if (r.ok) console.log(`job ${r.id}: ${DONE_WORDS[action]}${r.status && r.status !== 'deleted' ? `, ${r.status}` : ''}`);
    else console.error(`drover: ${r.error?.includes(r.id) ? r.error : `job ${r.id}: ${r.error}`}`);
  }
  const failed = results.filter((r) => !r.ok).length;
  if (failed > 0) {
    if (!json && results.length > 1) console.error(`drover: ${failed} of ${results.length} job(s) were not ${DONE_WORDS[action]} (said above)`);
    process.exitCode = 1;
  }
}

interface TaskSelection {
  task?: string;
  frames?: string;
}

/** Stops or retries some tasks of one job. */
async function actOnTasks(client: ApiClient, action: 'stop' | 'retry', id: string, sel: TaskSelection, json: boolean | undefined): Promise<void> {
  const answer = await client.json<TaskActionAnswer>('POST', `/jobs/${id}/tasks/${action}`, { ...(sel.task ? { tasks: sel.task } : {}), ...(sel.frames ? { frames: sel.frames } : {}) });
  if (json) return console.log(JSON.stringify(answer, null, 2));
  console.log(`job ${answer.job.id}: ${action === 'stop' ? 'stopped' : 'requeued'} task(s) ${answer.tasks.join(', ')}; job ${answer.job.status}: ${countsLine(answer.job.counts)}`);
}

export function registerJobActionCommands(job: Command): void {
  for (const action of JOB_ACTIONS) {
    const cmd = job
      .command(`${action} [ids...]`)
      .description(`${DESCRIPTIONS[action]}; several ids, or a filter`)
      .option('--status <status>', `the jobs in this state: ${JOB_STATUSES.join(', ')}`)
      .option('--older-than <age>', 'the jobs submitted longer ago than this: 30d, 12h, 45m', ageMs('--older-than'))
      .option('--name-contains <text>', 'the jobs whose name contains this (any case)')
      .option('--owner <user>', "only this user's jobs (admins' filters otherwise match everyone's jobs)")
      .option('--archived', 'the filter matches archived jobs (unarchive: always)', false)
      .option('--json', 'machine-readable output: { action, results: [{ id, ok, status, archived, error }] }');
    if (action === 'stop' || action === 'retry') {
      cmd.option('--task <spec>', 'only these tasks of the one job named, by number: 3 or 2,5-9');
      cmd.option('--frames <expr>', 'render jobs: only the tasks rendering these frames: 1-10, 5,7');
    }
    cmd.action(async (ids: string[], opts: Filters & TaskSelection & { json?: boolean; archived: boolean }) => {
      if (opts.status && !JOB_STATUSES.includes(opts.status as never)) throw new CliError(`--status must be one of ${JOB_STATUSES.join(', ')}`);
      const client = await signedInClient();
      if (opts.task !== undefined || opts.frames !== undefined) {
        if (ids.length !== 1 || hasFilter(opts)) throw new CliError('--task and --frames act on the tasks of one job: name exactly one job id');
        return actOnTasks(client, action as 'stop' | 'retry', ids[0]!, opts, opts.json);
      }
      if (ids.length > 0 && hasFilter(opts)) throw new CliError('name jobs by id or by a filter (--status, --older-than, --name-contains, --owner), not both');
      if (ids.length === 0 && !hasFilter(opts)) throw new CliError(`name the jobs to ${action}: ids, or a filter (--status, --older-than, --name-contains, --owner)`);
      const targets = ids.length > 0 ? ids : await matchingJobs(client, opts, action === 'unarchive' || opts.archived);
      if (targets.length === 0) {
        if (opts.json) console.log(JSON.stringify({ action, results: [] }, null, 2));
        else console.log('no job matches');
        return;
      }
      printResults(action, await actOnMany(client, action, targets), opts.json);
    });
  }
}
