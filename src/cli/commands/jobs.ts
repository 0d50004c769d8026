// `drover job …`: create, start, list, view, logs, stop, retry, download-results.
import { mkdir } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import type { Command } from 'commander';
import type { ApiClient } from '../../client/api-client.js';
import { INSTANCE_TYPES, type InstanceType } from '../../core/instance-types.js';
import { orderInputs, relativePathProblem, splitGlobList } from '../../core/inputs.js';
import { JOB_STATUSES } from '../../core/states.js';
import type { ResultFileEntry, ResultsIndex } from '../../wire/results.js';
import type { JobList, JobView, LogPage, ScriptJobBody, TaskPage, TaskView } from '../../wire/index.js';
import { readEvents, waitForJob } from '../follow.js';
import { countsLine, duration, table } from '../format.js';
import { type SchedulingOptions, addSchedulingOptions, positiveInt, priorityArg, runFields } from '../parse.js';
import { CliError, patientRetry, signedInClient, untilReachable } from '../session.js';
import { alreadyThere, fittingName, realDirectory, UnsafeDestinationError, writeSafely } from '../safe-files.js';
import { uploadFiles } from '../upload.js';
import { registerTemplateCommands } from './templates.js';
import { registerJobActionCommands } from './job-actions.js';
import { sanitizeFor } from '../terminal-text.js';


/**
 * After a job is submitted: prints it (`--json`: the job), or with `--wait` follows it to its end,
 * downloads its results (`-d`), says which tasks left nothing, and exits non-zero unless it is done.
 */
export async function followSubmission(client: ApiClient, created: JobView, opts: { wait: boolean; json?: boolean; dir?: string }, what: string): Promise<void> {
  if (!opts.wait) {
    if (opts.json) console.log(JSON.stringify(created, null, 2));
    else console.log(`created job ${created.id} "${created.name}" with ${what}, ${created.status}${created.status === 'created' ? ` (start it with: drover job start ${created.id})` : ''}`);
    return;
  }
  if (!opts.json) console.error(`job ${created.id} "${created.name}": ${what}`);
  const final = await waitForJob(client, created.id, { quiet: opts.json ?? false });
  if (opts.dir) {
    const where = await downloadResults(client, created.id, resolve(opts.dir), false);
    if (!opts.json) console.error(`results in ${where}`);
  }
  if (opts.json) console.log(JSON.stringify(final, null, 2));
  else console.log(`job ${final.id} ${final.status}: ${countsLine(final.counts)} in ${duration(final.durationMs)}`);
  if (!opts.json) await warnAboutEmptyTasks(client, final);
  exitForJob(final);
}

/** Exits non-zero unless the job is done: scripts can rely on `--wait`. */
export function exitForJob(job: JobView): void {
  if (job.status !== 'done') {
    console.error(`job ${job.id} ended ${job.status}: ${countsLine(job.counts)}`);
    process.exitCode = 1;
  }
}

export async function expandInputs(globs: string): Promise<string[]> {
  const patterns = splitGlobList(globs);
  if (patterns.length === 0) throw new CliError('give at least one input glob with -i');
  const matched: string[] = [];
  // Loaded here, not with the CLI: most commands never walk folders (see templates.ts).
  const { glob } = await import('tinyglobby');
  for (const pattern of patterns) {
    const found = await glob(pattern, { absolute: true, onlyFiles: true, expandDirectories: false });
    if (found.length === 0) throw new CliError(`the input glob "${pattern}" matches no file`);
    matched.push(...found);
  }
  return orderInputs(matched);
}

async function taskByIndex(client: ApiClient, jobId: string, index: number): Promise<TaskView> {
  const { tasks } = await client.json<TaskPage>('GET', `/jobs/${jobId}/tasks?offset=${index - 1}&limit=1`);
  const task = tasks[0];
  if (!task || task.index !== index) throw new CliError(`job ${jobId} has no task ${index}`);
  return task;
}

async function allTasks(client: ApiClient, jobId: string, max = Infinity): Promise<{ tasks: TaskView[]; total: number }> {
  const tasks: TaskView[] = [];
  let total = 0;
  for (let offset = 0; offset < max; offset += 1000) {
    const page = await client.json<TaskPage>('GET', `/jobs/${jobId}/tasks?offset=${offset}&limit=${Math.min(1000, max - offset)}`);
    tasks.push(...page.tasks);
    total = page.total;
    if (tasks.length >= total || page.tasks.length === 0) break;
  }
  return { tasks, total };
}

function printLog(prefix: string, entry: { stream: string; data: string }, raw: boolean | undefined): void {
  const out = entry.stream === 'stdout' ? process.stdout : process.stderr;
  const data = sanitizeFor(out, raw)(entry.data);
  out.write(prefix ? data.replace(/^(?=.)/gm, prefix) : data);
}

/** Follows a task's log to its end; after a dropped connection it carries on after the last entry shown. */
async function followTaskLog(client: ApiClient, task: TaskView, prefix: string, raw: boolean | undefined): Promise<void> {
  let after = 0;
  let ended = false;
  await untilReachable(`following the log of task ${task.index}`, async (retry) => {
    while (!ended) {
      await readEvents(client, `/tasks/${task.id}/logs/stream?after=${after}`, (event, data) => {
        if (event === 'log') {
          const entry = data as { seq: number; stream: string; data: string };
          if (entry.seq <= after) return false;
          after = entry.seq;
          printLog(prefix, entry, raw);
        }
        if (event === 'end') ended = true;
        return ended;
      }, undefined, retry);
    }
  });
}

/** Downloads a file of the job into `dir/name`, checked against its hash, riding out coordinator restarts. */
async function downloadVerified(client: ApiClient, jobId: string, file: ResultFileEntry, dir: string, name: string): Promise<void> {
  await untilReachable(`downloading ${file.path}`, async (retry) => {
    const res = await client.download(`/jobs/${jobId}/files/${file.sha256}`, retry);
    await writeSafely(dir, name, Readable.fromWeb(res.body as import('node:stream/web').ReadableStream), file.sha256);
  });
}

/**
 * Writes every result it can and says which it could not: a file the destination refuses (a
 * symbolic link in the way, a name the file system cannot take) does not stop the others. Files
 * already there with the right content are kept, so running it again after an interruption
 * resumes where it stopped.
 */
export async function downloadResults(client: ApiClient, jobId: string, dir: string, zip: boolean): Promise<string> {
  await mkdir(dir, { recursive: true });
  if (zip) {
    const name = `${jobId}.zip`;
    await untilReachable('downloading the results zip', async (retry) => {
      const res = await client.download(`/jobs/${jobId}/results.zip`, retry);
      await writeSafely(dir, name, Readable.fromWeb(res.body as import('node:stream/web').ReadableStream));
    });
    return join(dir, name);
  }
  const index = await client.json<ResultsIndex>('GET', `/jobs/${jobId}/results`, undefined, patientRetry('reading the results index'));
  const root = join(dir, jobId);
  const problems: string[] = [];
  for (const file of index.files) {
    const problem = relativePathProblem(file.path);
    if (problem) {
      problems.push(`${file.path}: refused, it would be written outside the results folder (${problem})`);
      continue;
    }
    const parts = file.path.split('/').map(fittingName);
    const shown = parts.join('/');
    try {
      const folder = await realDirectory(root, parts.slice(0, -1));
      const name = parts[parts.length - 1]!;
      if (shown !== file.path) process.stderr.write(`drover: ${file.path.slice(0, 60)}…: the name is too long for this file system; saved as ${shown}\n`);
      if (await alreadyThere(join(folder, name), file)) continue;
      await downloadVerified(client, jobId, file, folder, name);
    } catch (err) {
      if (!(err instanceof UnsafeDestinationError) && !isFileSystemError(err)) throw err;
      problems.push(`${shown}: ${(err as Error).message}`);
    }
  }
  await writeSafely(await realDirectory(dir, [jobId]), 'index.json', JSON.stringify(index, null, 2));
  if (problems.length > 0) {
    for (const p of problems) process.stderr.write(`drover: not written: ${p}\n`);
    throw new CliError(`${problems.length} of ${index.files.length} result file(s) were not written (said above); the others are in ${root}`);
  }
  return root;
}

/** Says when done tasks left nothing behind: the first sign of a download or tool that failed quietly. */
async function warnAboutEmptyTasks(client: ApiClient, job: JobView): Promise<void> {
  if (job.counts.done === 0) return;
  const { tasks } = await allTasks(client, job.id, 1000);
  const warned = tasks.filter((t) => t.warning);
  if (warned.length === 0) return;
  const which = warned.slice(0, 5).map((t) => t.index).join(', ') + (warned.length > 5 ? ', …' : '');
  console.error(`warning: ${warned.length} task(s) (${which}) ${warned[0]!.warning!.replace(/^the task /, '')} (drover job logs ${job.id} --task ${warned[0]!.index})`);
}

/** An error of the local file system about one file (name too long, no permission), not of the farm. */
function isFileSystemError(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return typeof code === 'string' && ['ENAMETOOLONG', 'EACCES', 'EPERM', 'EISDIR', 'ENOTDIR', 'ELOOP', 'EEXIST', 'EINVAL'].includes(code);
}

export function registerJobCommands(program: Command): void {
  const job = program.command('job').description('create and follow jobs');
  registerTemplateCommands(job);
  registerJobActionCommands(job);

  addSchedulingOptions(
    job
      .command('create')
      .description('a script job: one task per input file, in sorted input order')
      .requiredOption('-n, --name <name>', 'job name')
      .requiredOption('-s, --script <file>', 'the script (.py runs with python3, .sh with bash, anything else directly)')
      .requiredOption('-i, --input <globs>', 'input files: one or more globs, comma-separated')
      .option('-c, --constants <files...>', 'constants files given to every task')
      .option('-t, --instance-type <type>', `instance type: ${INSTANCE_TYPES.join(', ')}`, 's')
      .option('--max-attempts <n>', 'attempts before a task errors', positiveInt('--max-attempts')),
  )
    .option('--timeout <seconds>', 'kill a task that runs longer', positiveInt('--timeout'))
    .option('--image <image>', 'run tasks in this container image: one of your image names (drover image list) or a reference; default: your default image')
    .option('--network', 'give tasks network access (the default; refused where the farm denies it)')
    .option('--no-network', 'run tasks without network access')
    .option('--require-results', 'fail a task that exits 0 without writing a file to run-result/', false)
    .option('-r, --run', 'queue the job at once', false)
    .option('-w, --wait', 'follow the job to its end; exit non-zero unless it is done', false)
    .option('-d, --dir <outdir>', 'with --wait: download the results here')
    .option('--json', 'machine-readable output')
    .action(async (opts: { name: string; script: string; input: string; constants?: string[]; instanceType: string; maxAttempts?: number; timeout?: number; image?: string; network?: boolean; requireResults: boolean; run: boolean; wait: boolean; dir?: string; json?: boolean } & SchedulingOptions) => {
      if (!INSTANCE_TYPES.includes(opts.instanceType as never)) throw new CliError(`-t must be one of ${INSTANCE_TYPES.join(', ')}, not "${opts.instanceType}"`);
      if (opts.dir && !opts.wait) throw new CliError('-d goes with --wait');
      const client = await signedInClient();
      const inputs = await expandInputs(opts.input);
      const script = resolve(opts.script);
      const constants = (opts.constants ?? []).map((c) => resolve(c));
      const uploaded = await uploadFiles(
        client,
        [{ name: basename(script), absPath: script }, ...constants.map((c) => ({ name: basename(c), absPath: c })), ...inputs.map((p) => ({ name: basename(p), absPath: p }))],
        { quiet: opts.json ?? false },
      );
      const [scriptRef, ...rest] = uploaded.files.map(({ name, sha256 }) => ({ name, sha256 }));
      const created = await client.json<JobView, ScriptJobBody>('POST', '/jobs', {
        kind: 'script',
        name: opts.name,
        script: scriptRef!, // the first file uploaded
        constants: rest.slice(0, constants.length),
        inputs: rest.slice(constants.length),
        instanceType: opts.instanceType as InstanceType, // checked against INSTANCE_TYPES above
        start: opts.run || opts.wait,
        ...runFields(opts),
        // Said only when the user said it: otherwise the farm's default applies.
        ...(opts.network !== undefined ? { network: opts.network } : {}),
        ...(opts.requireResults ? { requireResults: true } : {}),
      });
      await followSubmission(client, created, opts, `${created.taskCount} task(s)`);
    });


  job
    .command('set <id>')
    .description("change a job's settings while it is created, queued or running")
    .requiredOption('--priority <n>', 'priority from 0 to 100, higher runs first', priorityArg)
    .action(async (id: string, opts: { priority: number }) => {
      const client = await signedInClient();
      const view = await client.json<JobView>('PATCH', `/jobs/${id}`, { priority: opts.priority });
      console.log(`job ${view.id} ${view.status}, priority ${view.priority}${view.waiting ? ` (waiting: ${view.waiting})` : ''}`);
    });

  job
    .command('list')
    .option('--status <status>', `only jobs in this state: ${JOB_STATUSES.join(', ')}`)
    .option('--limit <n>', 'how many', positiveInt('--limit'), 50)
    .option('--archived', 'the archived jobs (hidden otherwise)', false)
    .option('--json', 'machine-readable output')
    .action(async (opts: { status?: string; limit: number; archived: boolean; json?: boolean }) => {
      if (opts.status && !JOB_STATUSES.includes(opts.status as never)) throw new CliError(`--status must be one of ${JOB_STATUSES.join(', ')}`);
      const client = await signedInClient();
      const q = new URLSearchParams({ limit: String(opts.limit), ...(opts.status ? { status: opts.status } : {}), ...(opts.archived ? { archived: 'true' } : {}) });
      const page = await client.json<JobList>('GET', `/jobs?${q}`);
      if (opts.json) return console.log(JSON.stringify(page.jobs, null, 2));
      console.log(
        table(
          ['ID', 'NAME', 'STATUS', 'PRI', 'DONE', 'OWNER', 'CREATED', 'DURATION', 'WAITING'],
          page.jobs.map((j) => [j.id, j.name, j.status, j.priority, `${j.counts.done}/${j.taskCount}`, j.owner, j.createdAt, duration(j.durationMs), j.waiting ?? '']),
        ),
      );
      if (page.total > page.jobs.length) console.log(`(${page.jobs.length} of ${page.total}; --limit shows more)`);
    });

  job
    .command('view <id>')
    .description('status, counts per task state, and each task (on a terminal, control characters in task errors are shown as ^[ …)')
    .option('--json', 'machine-readable output')
    .option('--raw', 'print task errors byte-exact even on a terminal')
    .action(async (id: string, opts: { json?: boolean; raw?: boolean }) => {
      const client = await signedInClient();
      const view = await client.json<JobView>('GET', `/jobs/${id}`);
      const { tasks, total } = await allTasks(client, id, opts.json ? Infinity : 1000);
      if (opts.json) return console.log(JSON.stringify({ ...view, tasks }, null, 2));
      // Task errors and inputs come from the farm's users: never let them act on this terminal.
      const safe = sanitizeFor(process.stdout, opts.raw);
      const print = (text: string) => void process.stdout.write(`${safe(text)}\n`);
      print(`job ${view.id} "${view.name}" (${view.kind}) owned by ${view.owner}`);
      print(`status: ${view.status}   priority: ${view.priority}   tasks: ${countsLine(view.counts)}   instance: ${view.instanceType} (${view.cores} core(s))`);
      print(`created ${view.createdAt}   duration ${duration(view.durationMs)}   cpu ${view.cpuSeconds ?? 0}s${view.etaSeconds !== null ? `   eta ${duration(view.etaSeconds * 1000)}` : ''}`);
      print(`network: ${view.network ? 'yes' : 'none'}${view.requireResults ? '   results required' : ''}${view.image ? `   image: ${view.image}` : ''}`);
      if (view.after.length > 0) print(`after: ${view.after.join(', ')}${view.afterAny ? ' (once they have ended, whatever their state)' : ' (once they are done)'}`);
      if (view.unschedulable) print(`warning: ${view.unschedulable}`);
      else if (view.waiting) print(`waiting: ${view.waiting}`);
      if (view.blockedAgents?.length) print(`blocked agents (failed too many of this job's tasks): ${view.blockedAgents.join(', ')}`);
      if (view.steps) {
        print('');
        print(table(['STEP', 'STATE', 'TASKS', 'AFTER', 'NOTE'], view.steps.map((s) => [s.name, s.status, countsLine(s.counts), s.dependsOn.join(', ') || '-', s.unschedulable ?? ''])));
      }
      print('');
      if (view.steps) {
        const params = (t: TaskView) => Object.entries(t.parameters ?? {}).map(([k, v]) => `${k}=${v}`).join(' ');
        const said = (t: TaskView) => [t.progress !== null && t.progress !== undefined ? `${Math.round(t.progress)}%` : '', t.message ?? ''].filter(Boolean).join(' ');
        print(table(['TASK', 'STEP', 'PARAMETERS', 'STATE', 'ATTEMPTS', 'AGENT', 'DURATION', 'STATUS', 'ERROR'], tasks.map((t) => [t.index, t.step, params(t), t.status, t.attempts, t.agent, duration(t.durationMs), said(t), t.error ?? (t.warning ? `warning: ${t.warning}` : null)])));
      } else print(table(['TASK', 'INPUT', 'STATE', 'ATTEMPTS', 'AGENT', 'DURATION', 'ERROR'], tasks.map((t) => [t.index, t.input, t.status, t.attempts, t.agent, duration(t.durationMs), t.error ?? (t.warning ? `warning: ${t.warning}` : null)])));
      if (total > tasks.length) print(`(${tasks.length} of ${total} tasks shown; --json lists all)`);
    });

  job
    .command('logs <id>')
    .description("a job's task logs: on a terminal, control and escape sequences are shown as ^[ … instead of acting on it; piped or redirected, the output is byte-exact")
    .option('--task <n>', 'only this task (by its number in the job)', positiveInt('--task'))
    .option('-f, --follow', 'follow live until the task ends', false)
    .option('--raw', 'write the logs byte-exact even to a terminal', false)
    .action(async (id: string, opts: { task?: number; follow: boolean; raw: boolean }) => {
      const client = await signedInClient();
      const lookUp = async () => {
        const view = await client.json<JobView>('GET', `/jobs/${id}`);
        if (opts.task === undefined && view.taskCount > 1 && opts.follow) throw new CliError(`job ${id} has ${view.taskCount} tasks: choose one to follow with --task N`);
        return opts.task !== undefined ? [await taskByIndex(client, id, opts.task)] : (await allTasks(client, id)).tasks;
      };
      // Following rides out an outage from its first request on, as it does once it follows.
      const targets = opts.follow ? await untilReachable(`following the log of job ${id}`, lookUp) : await lookUp();
      for (const task of targets) {
        const prefix = targets.length > 1 ? `[task ${task.index}] ` : '';
        if (opts.follow) await followTaskLog(client, task, prefix, opts.raw);
        else {
          let after = 0;
          for (;;) {
            const { entries } = await client.json<LogPage>('GET', `/tasks/${task.id}/logs?after=${after}`, undefined, patientRetry('reading logs'));
            for (const e of entries) printLog(prefix, e, opts.raw);
            if (entries.length === 0) break;
            after = entries[entries.length - 1]!.seq;
          }
        }
      }
    });



  job
    .command('download-results <id>')
    .description('write DIR/<job id>/task-0001/… (or DIR/<job id>.zip with --zip)')
    .option('-d, --dir <dir>', 'target folder', '.')
    .option('--zip', 'save the results zip as the coordinator serves it', false)
    .action(async (id: string, opts: { dir: string; zip: boolean }) => {
      const client = await signedInClient();
      const where = await downloadResults(client, id, resolve(opts.dir), opts.zip);
      console.log(`results of job ${id} in ${where}`);
    });
}
