// A job's results: an index naming every task's files, and the zip streamed from the blob store
// entry by entry (never the whole job in memory or in a temporary copy).
import type { Readable } from 'node:stream';
import { ZipFile } from 'yazl';
import * as tasksRepo from '../../store/repositories/tasks.js';
import type { ServiceContext } from './context.js';
import type { JobRow } from '../../store/repositories/jobs.js';

export interface ResultsIndex {
  jobId: string;
  name: string;
  status: string;
  tasks: {
    index: number;
    id: string;
    input: string;
    status: string;
    attempts: number;
    folder: string;
    files: { path: string; sha256: string; size: number }[];
  }[];
}

export const taskFolder = (index: number): string => `task-${String(index).padStart(4, '0')}`;

export async function resultsIndex(ctx: ServiceContext, job: JobRow): Promise<ResultsIndex> {
  const tasks = await ctx.db.selectFrom('tasks').select(['id', 'idx', 'input_name', 'status', 'attempt']).where('job_id', '=', job.id).orderBy('idx').execute();
  const files = await tasksRepo.filesOfJob(ctx.db, job.id);
  const byTask = new Map<string, ResultsIndex['tasks'][number]['files']>();
  for (const f of files) {
    const list = byTask.get(f.task_id) ?? [];
    list.push({ path: f.path, sha256: f.sha256, size: Number(f.size) });
    byTask.set(f.task_id, list);
  }
  return {
    jobId: job.id,
    name: job.name,
    status: job.status,
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

export function resultsZip(ctx: ServiceContext, index: ResultsIndex): Readable {
  const zip = new ZipFile();
  const root = index.jobId;
  zip.addBuffer(Buffer.from(JSON.stringify(index, null, 2)), `${root}/index.json`);
  for (const task of index.tasks) {
    for (const file of task.files) {
      // Lazy: the blob is opened only when the zip reaches it, so a job of 10,000 files holds one.
      zip.addReadStreamLazy(`${root}/${task.folder}/${file.path}`, { size: file.size }, (cb) => cb(null, ctx.blobs.read(file.sha256)));
    }
  }
  zip.end();
  return zip.outputStream as unknown as Readable;
}
