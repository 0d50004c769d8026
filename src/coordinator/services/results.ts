// A job's results: an index naming every file with its place in the download, and the zip
// streamed from the blob store entry by entry (never the whole job in memory or in a copy).
//   script jobs:  <job>/task-0001/<result files>, stdout.txt, stderr.txt
//   render jobs:  <job>/frames/<frames as Blender named them>, preview.mp4, logs/task-0001.stdout.txt
//   template jobs: <job>/outputs/<PATH parameter>/<what tasks wrote there>,
//                  logs/<step name>/task-0001.stdout.txt (numbered within the step)
import type { Readable } from 'node:stream';
import { ZipFile } from 'yazl';
import * as framesRepo from '../../store/repositories/frames.js';
import * as tasksRepo from '../../store/repositories/tasks.js';
import type { JobRow } from '../../store/repositories/jobs.js';
import type { ServiceContext } from './context.js';
import type { TemplateJobSpec, TemplateTaskSpec } from './template-jobs.js';

export interface ResultFileEntry {
  /** The file's place under `<job id>/` in the download. */
  path: string;
  sha256: string;
  size: number;
}

export interface ResultsIndex {
  jobId: string;
  name: string;
  kind: string;
  status: string;
  /** Every file of the download, in order. */
  files: ResultFileEntry[];
  /** Template jobs: every step, in template order. */
  steps?: { index: number; name: string; dependsOn: string[]; taskCount: number }[];
  tasks: {
    index: number;
    id: string;
    input: string;
    status: string;
    attempts: number;
    folder: string;
    /** Template jobs: the task's step and parameter values. */
    step?: string;
    parameters?: Record<string, string>;
    /** This task's files, relative to its folder (script jobs) or to the job (render logs). */
    files: { path: string; sha256: string; size: number }[];
  }[];
}

export const taskFolder = (index: number): string => `task-${String(index).padStart(4, '0')}`;

export async function resultsIndex(ctx: ServiceContext, job: JobRow): Promise<ResultsIndex> {
  const tasks = await ctx.db.selectFrom('tasks').select(['id', 'idx', 'input_name', 'status', 'attempt', 'step', 'spec']).where('job_id', '=', job.id).orderBy('idx').execute();
  const taskFiles = await tasksRepo.filesOfJob(ctx.db, job.id);
  const byTask = new Map<string, ResultsIndex['tasks'][number]['files']>();
  for (const f of taskFiles) {
    const list = byTask.get(f.task_id) ?? [];
    list.push({ path: f.path, sha256: f.sha256, size: Number(f.size) });
    byTask.set(f.task_id, list);
  }
  if (job.kind === 'template') return templateIndex(job, tasks, byTask);
  const render = job.kind === 'render';
  const files: ResultFileEntry[] = [];
  if (render) {
    for (const f of await framesRepo.doneFramesOfJob(ctx.db, job.id)) files.push({ path: f.path!, sha256: f.sha256!, size: Number(f.size) });
    const preview = await framesRepo.findPreview(ctx.db, job.id);
    if (preview?.status === 'ready' && preview.sha256) files.push({ path: 'preview.mp4', sha256: preview.sha256, size: Number(preview.size) });
  }
  for (const t of tasks) {
    const folder = taskFolder(t.idx);
    for (const f of byTask.get(t.id) ?? []) {
      if (!render) files.push({ path: `${folder}/${f.path}`, ...pick(f) });
      else if (f.path === 'stdout.txt' || f.path === 'stderr.txt') files.push({ path: `logs/${folder}.${f.path}`, ...pick(f) });
      else files.push({ path: `${folder}/${f.path}`, ...pick(f) });
    }
  }
  return {
    jobId: job.id,
    name: job.name,
    kind: job.kind,
    status: job.status,
    files,
    tasks: tasks.map((t) => ({
      index: t.idx,
      id: t.id,
      input: t.input_name,
      status: t.status,
      attempts: t.attempt,
      folder: taskFolder(t.idx),
      files: byTask.get(t.id) ?? [],
    })),
  };
}

const pick = (f: { sha256: string; size: number }) => ({ sha256: f.sha256, size: f.size });

/** A step name as a folder name: no separators or control characters. */
export function stepFolder(name: string): string {
  const safe = name.replace(/[\u0000-\u001f\u007f/\\]/g, '_').replace(/^\.+$/, '_');
  return safe.slice(0, 100) || '_';
}

function templateIndex(
  job: JobRow,
  tasks: { id: string; idx: number; input_name: string; status: string; attempt: number; step: number; spec: string | null }[],
  byTask: Map<string, ResultsIndex['tasks'][number]['files']>,
): ResultsIndex {
  const spec = JSON.parse(job.spec) as TemplateJobSpec;
  const outputs = new Map<string, ResultFileEntry>();
  const logs: ResultFileEntry[] = [];
  const numberInStep = new Map<number, number>();
  const entries = tasks.map((t) => {
    const n = (numberInStep.get(t.step) ?? 0) + 1;
    numberInStep.set(t.step, n);
    const stepName = spec.steps[t.step]?.name ?? String(t.step);
    const folder = `logs/${stepFolder(stepName)}/${taskFolder(n)}`;
    for (const f of byTask.get(t.id) ?? []) {
      // Later steps' files over earlier ones at the same path (tasks are in step order, then index).
      if (f.path.startsWith('outputs/')) outputs.set(f.path, { path: f.path, ...pick(f) });
      else if (f.path === 'stdout.txt' || f.path === 'stderr.txt') logs.push({ path: `${folder}.${f.path}`, ...pick(f) });
    }
    const own = t.spec ? (JSON.parse(t.spec) as TemplateTaskSpec) : null;
    return {
      index: t.idx,
      id: t.id,
      input: t.input_name,
      status: t.status,
      attempts: t.attempt,
      folder,
      step: stepName,
      parameters: own?.parameters ?? {},
      files: byTask.get(t.id) ?? [],
    };
  });
  const byStep = [...outputs.values()];
  return {
    jobId: job.id,
    name: job.name,
    kind: job.kind,
    status: job.status,
    files: [...byStep, ...logs],
    steps: spec.steps.map((s, index) => ({ index, name: s.name, dependsOn: s.dependsOn.map((d) => spec.steps[d]!.name), taskCount: s.taskCount })),
    tasks: entries,
  };
}

export function resultsZip(ctx: ServiceContext, index: ResultsIndex): Readable {
  const zip = new ZipFile();
  const root = index.jobId;
  zip.addBuffer(Buffer.from(JSON.stringify(index, null, 2)), `${root}/index.json`);
  for (const file of index.files) {
    // Lazy: the blob is opened only when the zip reaches it, so a job of 10,000 files holds one.
    zip.addReadStreamLazy(`${root}/${file.path}`, { size: file.size }, (cb) => cb(null, ctx.blobs.read(file.sha256)));
  }
  zip.end();
  return zip.outputStream as unknown as Readable;
}
