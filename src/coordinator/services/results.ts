// A job's results: an index naming every file with its place in the download, and the zip
// streamed from the blob store entry by entry (never the whole job in memory or in a copy).
//   script jobs:  <job>/task-0001/<result files>, stdout.txt, stderr.txt
//   render jobs:  <job>/frames/<frames as Blender named them>, preview.mp4, logs/task-0001.stdout.txt
//   template jobs: <job>/outputs/<PATH parameter>/<what tasks wrote there>,
//                  logs/<step name>/task-0001.stdout.txt (numbered within the step)
import type { Readable } from 'node:stream';
import { ZipFile } from 'yazl';
import * as tasksRepo from '../../store/repositories/tasks.js';
import type { JobRow } from '../../store/repositories/jobs.js';
import type { ServiceContext } from './context.js';
import { kindOf } from '../kinds/index.js';
import { perTaskIndex, pick, taskFolder } from './result-layout.js';
import type { ResultFileEntry, ResultsIndex } from '../../wire/results.js';

// The index's shape is part of the wire contract (the CLI downloads by it).
export type { ResultFileEntry, ResultsIndex } from '../../wire/results.js';

export { stepFolder, taskFolder } from './result-layout.js';

export async function resultsIndex(ctx: ServiceContext, job: JobRow): Promise<ResultsIndex> {
  const tasks = await ctx.db.selectFrom('tasks').select(['id', 'idx', 'input_name', 'status', 'attempt', 'step', 'spec']).where('job_id', '=', job.id).orderBy('idx').execute();
  const taskFiles = await tasksRepo.filesOfJob(ctx.db, job.id);
  const byTask = new Map<string, ResultsIndex['tasks'][number]['files']>();
  for (const f of taskFiles) {
    const list = byTask.get(f.task_id) ?? [];
    list.push({ path: f.path, sha256: f.sha256, size: Number(f.size) });
    byTask.set(f.task_id, list);
  }
  const layout = kindOf(job.kind).resultsIndex;
  if (layout) return layout(ctx, job, tasks, byTask);
  // One folder per task, the kind's default (script jobs).
  const files: ResultFileEntry[] = [];
  for (const t of tasks) {
    const folder = taskFolder(t.idx);
    for (const f of byTask.get(t.id) ?? []) files.push({ path: `${folder}/${f.path}`, ...pick(f) });
  }
  return perTaskIndex(job, files, tasks, byTask);
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
