// A job page's summary: progress (frames and tasks), ETA, times, and what the job asked for.
import type { Job } from '../api.ts';
import { ProgressBar } from '../components.tsx';
import { dateTime, duration, fullDateTime, liveDuration, num, seconds } from '../format.ts';

export function JobSummary({ job, now, finished }: { job: Job; now: number; finished: boolean }) {
  const render = job.kind === 'render' && job.render ? job.render : null;
  return (
    <section class="panel stats" aria-label="Job summary">
      {render && (
        <div class="stat stat-wide" data-testid="frame-progress">
          <div class="stat-label">Frames</div>
          <ProgressBar
            counts={{ pending: 0, done: render.framesDone ?? 0, running: 0, queued: 0, error: 0, canceled: 0 }}
            total={render.frameCount}
            unit="frames"
            testid="frames-progress"
          />
        </div>
      )}
      <div class="stat stat-wide">
        <div class="stat-label">{render ? 'Tasks' : 'Progress'}</div>
        <ProgressBar counts={job.counts} total={job.taskCount} />
        <div class="legend">
          <span class="lg lg-done">{num(job.counts.done)} done</span>
          <span class="lg lg-running" data-testid="legend-running">
            {num(job.counts.running)} running
          </span>
          {(job.counts.uploading ?? 0) > 0 && (
            <span class="lg lg-uploading" data-testid="legend-uploading" title="Their work is over; their results are on their way (the agent may already run its next task)">
              {num(job.counts.uploading ?? 0)} uploading
            </span>
          )}
          <span class="lg lg-queued">{num(job.counts.queued)} queued</span>
          <span class="lg lg-error">{num(job.counts.error)} error</span>
          <span class="lg lg-canceled">{num(job.counts.canceled)} canceled</span>
        </div>
      </div>
      <Stat label="ETA" testid="job-eta" value={eta(job, finished)} title={job.unschedulable ?? undefined} />
      <Stat label="Duration" testid="job-duration" value={duration(liveDuration(job, now))} />
      <Stat label="CPU time" testid="job-cpu" value={seconds(job.cpuSeconds)} />
      <Stat label="Instance" value={`${job.instanceType.toUpperCase()} · ${job.cores} ${job.cores === 1 ? 'core' : 'cores'}`} />
      <Stat label="Submitted" value={dateTime(job.createdAt, now)} title={fullDateTime(job.createdAt)} />
      <Stat label="Started" value={dateTime(job.startedAt, now)} title={fullDateTime(job.startedAt)} />
      <Stat label="Finished" value={dateTime(job.finishedAt, now)} title={fullDateTime(job.finishedAt)} />
      <Stat label="Max attempts" value={String(job.maxAttempts)} />
      <Stat label="Network" testid="job-network" value={job.network ? 'yes' : 'none'} />
    </section>
  );
}

/** No estimate is ever coming for a job no agent can run: say so rather than "estimating…". */
function eta(job: Job, finished: boolean): string {
  if (finished) return '—';
  if (job.status === 'created') return 'not started';
  if (job.unschedulable) return 'none: cannot be scheduled';
  if (job.etaSeconds !== null) return seconds(job.etaSeconds);
  if (job.counts.running + (job.counts.uploading ?? 0) > 0) return 'estimating…';
  // what holds it back is said above (the scheduling panel)
  return job.waiting ? 'none yet: it waits' : 'waiting for a free slot';
}

function Stat({ label, value, testid, title }: { label: string; value: string; testid?: string; title?: string }) {
  return (
    <div class="stat" title={title}>
      <div class="stat-label">{label}</div>
      <div class="stat-value" data-testid={testid}>
        {value}
      </div>
    </div>
  );
}
