// The preview step of a render job, on the coordinator's side: its lease carries the job's frames
// (the agent fetches them from the blob store and runs ffmpeg, see src/agent/preview-program.ts);
// its end fills the job's preview. The coordinator itself runs no ffmpeg. A preview that could not
// be made never fails a finished render: it is `unavailable` with the reason, and the job is done.
import * as framesRepo from '../../../store/repositories/frames.js';
import type { Db } from '../../../store/schema.js';
import { nowIso } from '../../services/context.js';
import type { LeasedTask } from '../../services/leasing.js';
import type { EndingTask, TaskEnding } from '../kind.js';
import { PREVIEW_STEP, type RenderJobSpec } from './render-jobs.js';
import { PREVIEW_FILE, type PreviewFrame, type PreviewFramesQuery, type PreviewTaskSpec } from '../../../wire/render.js';
import * as tasksRepo from '../../../store/repositories/tasks.js';
import type { AgentPrincipal } from '../../services/agents.js';
import type { ServiceContext } from '../../services/context.js';
import { leaseLost } from '../../errors.js';

// What the preview task's lease carries, and the file it reports, are part of the wire contract.
export { PREVIEW_FILE, type PreviewTaskSpec } from '../../../wire/render.js';

/**
 * Makes the lease of a preview task: the `preview` program, over every frame of the job. The step
 * starts once every chunk has started, so some frames are still being rendered: those have no blob
 * yet, and the agent asks for them as they are recorded (`previewFramesFrom`).
 */
export async function leasePreview(trx: Db, leased: LeasedTask): Promise<void> {
  const job = leased.jobSpec as RenderJobSpec;
  const frames = await framesRepo.framesOfJob(trx, leased.jobId);
  leased.kind = 'preview';
  // The agent fetches the frames itself (by reference, not copied into the task directory).
  leased.files = [];
  // The job's per-task timeout is the chunks' (what a render may take): the preview waits for the
  // last of them, then its ffmpeg has a timeout of its own.
  leased.timeoutSeconds = null;
  leased.taskSpec = { frames: frames.map((f) => ({ frame: f.frame, path: f.path, sha256: f.sha256 })), fps: job.render.fps } satisfies PreviewTaskSpec;
  await framesRepo.setPreview(trx, leased.jobId, { status: 'pending', sha256: null, size: null, error: null, updated_at: nowIso() });
}

/** Keeps the preview of an ended preview task; a failed one ends done, its reason kept as the preview's. */
export async function settlePreview(trx: Db, task: EndingTask, ending: TaskEnding): Promise<TaskEnding> {
  const now = nowIso();
  const video = ending.status === 'done' ? ending.files.find((f) => f.path === PREVIEW_FILE) : undefined;
  if (video) {
    await framesRepo.setPreview(trx, task.job_id, { status: 'ready', sha256: video.sha256, size: video.size, error: null, updated_at: now });
    return ending;
  }
  const reason = ending.error ?? `the agent reported no ${PREVIEW_FILE}`;
  await framesRepo.setPreview(trx, task.job_id, { status: 'unavailable', sha256: null, size: null, error: reason, updated_at: now });
  return { status: 'done', error: ending.status === 'done' ? reason : `no preview: ${reason}`, files: ending.files };
}

/** Most frames one answer to the preview task lists (it asks again from the next one). */
const FRAMES_PER_ANSWER = 1000;

/**
 * The recorded frames numbered `from` or more, for the preview task that holds this attempt: at
 * once when frame `from` is recorded, else when it is (a long-poll of up to `waitSeconds`, woken by
 * the job's events), else what there is when the wait ends or `signal` aborts. A 409 (lease lost)
 * once the attempt is no longer this agent's: the task was stopped, or canceled by the step gate.
 */
export async function previewFramesFrom(ctx: ServiceContext, agent: AgentPrincipal, taskId: string, query: PreviewFramesQuery, signal: AbortSignal): Promise<PreviewFrame[]> {
  const deadline = Date.now() + (query.waitSeconds ?? 0) * 1000;
  // Listening from the start: a frame recorded between the read and the wait must not be slept through.
  let changed = false;
  let jobId = '';
  let wake: (() => void) | null = null;
  const onEvent = () => {
    changed = true;
    wake?.();
  };
  const offJob = ctx.bus.on('job', (id) => id === jobId && onEvent());
  const offTask = ctx.bus.on('task', (id) => id === taskId && onEvent());
  try {
    for (;;) {
      changed = false;
      const task = await tasksRepo.findTask(ctx.db, taskId);
      if (!task || task.step !== PREVIEW_STEP || task.status !== 'running' || task.agent_id !== agent.id || task.attempt !== query.attempt) throw leaseLost(taskId);
      jobId = task.job_id;
      const frames = await framesRepo.recordedFramesFrom(ctx.db, jobId, query.from, FRAMES_PER_ANSWER);
      if (frames[0]?.frame === query.from || Date.now() >= deadline || signal.aborted) return frames.map((f) => ({ frame: f.frame, path: f.path!, sha256: f.sha256! }));
      if (!changed) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, deadline - Date.now());
          signal.addEventListener('abort', done, { once: true });
          wake = done;
          function done() {
            clearTimeout(timer);
            signal.removeEventListener('abort', done);
            wake = null;
            resolve();
          }
        });
      }
    }
  } finally {
    offJob();
    offTask();
  }
}
