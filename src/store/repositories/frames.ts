// Render frames: one row per frame of a render job, filled in as agents upload each frame.
import { readRows } from '../off-thread-reads.js';
import type { Db, FramesTable } from '../schema.js';
import type { PreviewStatus } from '../../wire/render.js';

const INSERT_CHUNK = 500;

export async function insertFrames(db: Db, rows: readonly Pick<FramesTable, 'job_id' | 'frame' | 'task_id'>[]): Promise<void> {
  for (let i = 0; i < rows.length; i += INSERT_CHUNK) {
    await db.insertInto('frames').values(rows.slice(i, i + INSERT_CHUNK).map((r) => ({ ...r }))).execute();
  }
}

/** Frames of a task that have no stored image yet: what its next attempt must render. */
export async function missingFramesOfTask(db: Db, taskId: string): Promise<number[]> {
  const rows = await db.selectFrom('frames').select('frame').where('task_id', '=', taskId).where('sha256', 'is', null).orderBy('frame').execute();
  return rows.map((r) => r.frame);
}

/** Forgets the images a task delivered (a person reruns it): its frames are to render again. */
export async function forgetFramesOfTask(db: Db, taskId: string): Promise<void> {
  await db
    .updateTable('frames')
    .set({ path: null, sha256: null, size: null, render_ms: null, thumb_sha: null, preview_sha: null, attempt: null, finished_at: null })
    .where('task_id', '=', taskId)
    .execute();
}

export function findFrame(db: Db, jobId: string, frame: number) {
  return db.selectFrom('frames').selectAll().where('job_id', '=', jobId).where('frame', '=', frame).executeTakeFirst();
}

export async function recordFrame(
  db: Db,
  jobId: string,
  frame: number,
  fields: Pick<FramesTable, 'path' | 'sha256' | 'size' | 'render_ms' | 'thumb_sha' | 'preview_sha' | 'attempt' | 'finished_at'>,
): Promise<void> {
  await db.updateTable('frames').set(fields).where('job_id', '=', jobId).where('frame', '=', frame).execute();
}

export function listFrames(db: Db, jobId: string, offset: number, limit: number) {
  return db
    .selectFrom('frames')
    .innerJoin('tasks', 'tasks.id', 'frames.task_id')
    .selectAll('frames')
    .select(['tasks.status as task_status', 'tasks.idx as task_index'])
    .where('frames.job_id', '=', jobId)
    .orderBy('frames.frame')
    .offset(offset)
    .limit(limit)
    .execute();
}

export async function frameStats(db: Db, jobId: string, big = false): Promise<{ total: number; done: number }> {
  const query = db
    .selectFrom('frames')
    .select((eb) => [eb.fn.countAll<number>().as('total'), eb.fn.count<number>('sha256').as('done')])
    .where('job_id', '=', jobId);
  const [row] = await readRows(db, query, big);
  return { total: Number(row?.total ?? 0), done: Number(row?.done ?? 0) };
}

export function lastFrame(db: Db, jobId: string) {
  return db
    .selectFrom('frames')
    .selectAll()
    .where('job_id', '=', jobId)
    .where('finished_at', 'is not', null)
    .orderBy('finished_at', 'desc')
    .orderBy('frame', 'desc')
    .limit(1)
    .executeTakeFirst();
}

/** The stored frames a render task delivered, in frame order. */
export function doneFramesOfTask(db: Db, taskId: string) {
  return db.selectFrom('frames').select(['frame', 'path', 'sha256', 'size']).where('task_id', '=', taskId).where('sha256', 'is not', null).orderBy('frame').execute();
}

/** Every frame of the job in frame order, with its file once recorded (path and blob null until then). */
export function framesOfJob(db: Db, jobId: string) {
  return db.selectFrom('frames').select(['frame', 'path', 'sha256']).where('job_id', '=', jobId).orderBy('frame').execute();
}

/** The job's recorded frames numbered `from` or more, in frame order, at most `limit`. */
export function recordedFramesFrom(db: Db, jobId: string, from: number, limit: number) {
  return db
    .selectFrom('frames')
    .select(['frame', 'path', 'sha256'])
    .where('job_id', '=', jobId)
    .where('frame', '>=', from)
    .where('sha256', 'is not', null)
    .orderBy('frame')
    .limit(limit)
    .execute();
}

export function doneFramesOfJob(db: Db, jobId: string) {
  return db.selectFrom('frames').select(['frame', 'path', 'sha256', 'size']).where('job_id', '=', jobId).where('sha256', 'is not', null).orderBy('frame').execute();
}

/** Whether `sha256` is a frame, thumbnail or preview image of this job. */
export async function jobHasFrameFile(db: Db, jobId: string, sha256: string): Promise<boolean> {
  const row = await db
    .selectFrom('frames')
    .select('frame')
    .where('job_id', '=', jobId)
    .where((eb) => eb.or([eb('sha256', '=', sha256), eb('thumb_sha', '=', sha256), eb('preview_sha', '=', sha256)]))
    .limit(1)
    .executeTakeFirst();
  if (row) return true;
  const preview = await db.selectFrom('job_previews').select('job_id').where('job_id', '=', jobId).where('sha256', '=', sha256).executeTakeFirst();
  return preview !== undefined;
}

export function findPreview(db: Db, jobId: string) {
  return db.selectFrom('job_previews').selectAll().where('job_id', '=', jobId).executeTakeFirst();
}

export async function setPreview(db: Db, jobId: string, fields: { status: PreviewStatus; sha256: string | null; size: number | null; error: string | null; updated_at: string }): Promise<void> {
  await db
    .insertInto('job_previews')
    .values({ job_id: jobId, ...fields })
    .onConflict((oc) => oc.column('job_id').doUpdateSet(fields))
    .execute();
}
