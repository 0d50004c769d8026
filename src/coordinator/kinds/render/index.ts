// The render kind: Blender over frame chunks on agents, then a preview step (ffmpeg on an agent).
import * as framesRepo from '../../../store/repositories/frames.js';
import { isBigJob } from '../../../store/off-thread-reads.js';
import type { JobKindDefinition } from '../kind.js';
import { leasePreview, settlePreview } from './preview.js';
import { PREVIEW_STEP, RENDER_STEP, RENDER_STEPS, type RenderJobRequest, createRenderJob, renderView } from './render-jobs.js';
import { renderResultsIndex } from './results.js';
import { jobSpecOf } from '../../../store/json-columns.js';

export const renderKind: JobKindDefinition<RenderJobRequest> = {
  create: createRenderJob,
  steps: () => RENDER_STEPS,
  countedStep: RENDER_STEP,
  async refineLease(trx, leased, task) {
    if (task.step === PREVIEW_STEP) return leasePreview(trx, leased);
    // A retry renders only the frames no earlier attempt delivered.
    const allFrames = (leased.taskSpec as { frames: number[] }).frames;
    leased.taskSpec = { frames: await framesRepo.missingFramesOfTask(trx, task.id), allFrames };
  },
  // Frames are checked by completeTask (successProblem).
  quickCompletion: false,
  async successProblem(trx, task) {
    if (task.step !== RENDER_STEP) return null;
    const missing = await framesRepo.missingFramesOfTask(trx, task.id);
    if (missing.length === 0) return null;
    return `Blender ended without saving frame(s) ${missing.slice(0, 10).join(', ')}${missing.length > 10 ? ', …' : ''}`;
  },
  warnsWhenNothingProduced: false,
  async forgetResults(trx, task) {
    if (task.step !== RENDER_STEP) return;
    await framesRepo.forgetFramesOfTask(trx, task.id);
    // The preview was made of the old frames: it is made again once the chunk is rendered anew
    // (the step gate keeps its task pending until then; one under way starts over, as the chunk
    // is queued again).
    const preview = await trx.selectFrom('tasks').select('id').where('job_id', '=', task.job_id).where('step', '=', PREVIEW_STEP).executeTakeFirst();
    if (preview) {
      await trx.deleteFrom('task_files').where('task_id', '=', preview.id).execute();
      await trx.updateTable('tasks').set({ status: 'pending', tries: 0, agent_id: null, finished_at: null, exit_code: null, error: null, lease_expires_at: null }).where('id', '=', preview.id).where('status', '!=', 'running').execute();
      await framesRepo.setPreview(trx, task.job_id, { status: 'pending', sha256: null, size: null, error: null, updated_at: new Date().toISOString() });
    }
  },
  settleTask: async (trx, task, ending) => (task.step === PREVIEW_STEP ? settlePreview(trx, task, ending) : ending),
  async detail(db, row, view) {
    const spec = jobSpecOf(row, 'render');
    view.render = await renderView(db, row.id, spec.render, isBigJob(row));
  },
  resultsIndex: renderResultsIndex,
};
