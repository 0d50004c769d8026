// A render job's results: <job>/frames/<frames as Blender named them>, preview.mp4,
// logs/task-0001.stdout.txt. The preview task's own files are not listed: its video is preview.mp4.
import * as framesRepo from '../../../store/repositories/frames.js';
import type { JobRow } from '../../../store/repositories/jobs.js';
import type { ServiceContext } from '../../services/context.js';
import { perTaskIndex, pick, taskFolder } from '../../services/result-layout.js';
import type { ResultFileEntry, ResultsIndex } from '../../services/results.js';
import type { ResultTaskRow } from '../kind.js';
import { PREVIEW_FILE } from './preview.js';
import { RENDER_STEP } from './render-jobs.js';

export async function renderResultsIndex(
  ctx: ServiceContext,
  job: JobRow,
  allTasks: readonly ResultTaskRow[],
  byTask: ReadonlyMap<string, ResultsIndex['tasks'][number]['files']>,
): Promise<ResultsIndex> {
  const tasks = allTasks.filter((t) => t.step === RENDER_STEP);
  const files: ResultFileEntry[] = [];
  for (const f of await framesRepo.doneFramesOfJob(ctx.db, job.id)) files.push({ path: f.path!, sha256: f.sha256!, size: Number(f.size) });
  const preview = await framesRepo.findPreview(ctx.db, job.id);
  if (preview?.status === 'ready' && preview.sha256) files.push({ path: PREVIEW_FILE, sha256: preview.sha256, size: Number(preview.size) });
  for (const t of tasks) {
    const folder = taskFolder(t.idx);
    for (const f of byTask.get(t.id) ?? []) {
      if (f.path === 'stdout.txt' || f.path === 'stderr.txt') files.push({ path: `logs/${folder}.${f.path}`, ...pick(f) });
      else files.push({ path: `${folder}/${f.path}`, ...pick(f) });
    }
  }
  return perTaskIndex(job, files, tasks, byTask);
}
