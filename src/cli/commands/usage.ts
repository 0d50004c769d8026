// `drover usage`: core- and GPU-hours per user (and per day with --days, per job with --jobs).
import type { Command } from 'commander';
import type { UsageReport } from '../../wire/usage.js';
import { hoursText } from '../../core/usage.js';
import { table } from '../format.js';
import { signedInClient } from '../session.js';

export function registerUsageCommand(program: Command): void {
  program
    .command('usage')
    .description('core- and GPU-hours your tasks used, failed attempts included (admins: everyone\'s); kept when jobs are deleted')
    .option('--user <name>', "one user's usage (admins; yours without it)")
    .option('--since <date>', 'from this day on, e.g. 2026-12-01 (UTC)')
    .option('--until <date>', 'up to and including this day')
    .option('--days', 'one row per day and user')
    .option('--jobs', 'one row per job, most used first')
    .option('--json', 'machine-readable output: {since, until, users, days, jobs}')
    .action(async (opts: { user?: string; since?: string; until?: string; days?: boolean; jobs?: boolean; json?: boolean }) => {
      const client = await signedInClient();
      const query = new URLSearchParams();
      for (const key of ['user', 'since', 'until'] as const) if (opts[key] !== undefined) query.set(key, opts[key]!);
      const q = query.toString();
      const report = await client.json<UsageReport>('GET', `/usage${q ? `?${q}` : ''}`);
      if (opts.json) return console.log(JSON.stringify(report, null, 2));
      const span = `${report.since ?? 'the start'} to ${report.until ?? 'today'}`;
      if (report.users.length === 0) return console.log(`no usage recorded from ${span}`);
      console.log(`usage from ${span} (UTC days; hours are core-hours and GPU-hours)`);
      if (opts.days) {
        console.log(table(['DAY', 'USER', 'CORE-H', 'GPU-H', 'JOBS', 'TASKS'], report.days.map((d) => [d.day, d.user, hoursText(d.coreSeconds), hoursText(d.gpuSeconds), d.jobs, d.tasks])));
      } else if (opts.jobs) {
        console.log(table(['JOB', 'NAME', 'USER', 'CORE-H', 'GPU-H', 'TASKS', 'ATTEMPTS'], report.jobs.map((j) => [j.jobId + (j.deleted ? ' (deleted)' : ''), j.name, j.user, hoursText(j.coreSeconds), hoursText(j.gpuSeconds), j.tasks, j.attempts])));
      } else {
        console.log(table(['USER', 'CORE-H', 'GPU-H', 'JOBS', 'TASKS', 'ATTEMPTS'], report.users.map((u) => [u.user, hoursText(u.coreSeconds), hoursText(u.gpuSeconds), u.jobs, u.tasks, u.attempts])));
      }
    });
}
