// The folder names of a job's results, shared by every kind's layout (see results.ts), and the
// index of the layouts that give each task one folder (script jobs, render jobs).
import type { JobRow } from '../../store/repositories/jobs.js';
import type { ResultFileEntry, ResultsIndex } from '../../wire/results.js';
import type { ResultTaskRow } from '../kinds/kind.js';

export const taskFolder = (index: number): string => `task-${String(index).padStart(4, '0')}`;

/** A step name as a folder name: no separators or control characters. */
export function stepFolder(name: string): string {
  const safe = name.replace(/[\u0000-\u001f\u007f/\\]/g, '_').replace(/^\.+$/, '_');
  return safe.slice(0, 100) || '_';
}

export const pick = (f: { sha256: string; size: number }) => ({ sha256: f.sha256, size: f.size });

/**
 * The index of a job whose tasks each have one folder (taskFolder): the job, `files` as its layout
 * placed them, and every task of `tasks` with its folder and its own files. Script jobs (the
 * default layout) and render jobs (their render tasks) answer this one shape; template jobs number
 * tasks within steps and build their own.
 */
export function perTaskIndex(
  job: JobRow,
  files: ResultFileEntry[],
  tasks: readonly ResultTaskRow[],
  byTask: ReadonlyMap<string, ResultsIndex['tasks'][number]['files']>,
): ResultsIndex {
  return {
    jobId: job.id,
    name: job.name,
    kind: job.kind,
    status: job.status,
    files,
    tasks: tasks.map((t) => ({ index: t.idx, id: t.id, input: t.input_name, status: t.status, attempts: t.attempt, folder: taskFolder(t.idx), files: byTask.get(t.id) ?? [] })),
  };
}
