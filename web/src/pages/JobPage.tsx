import { useCallback, useRef, useState } from 'preact/hooks';
import { api, apiUrl, messageOf, taskNumbersSpec, type Job } from '../api.ts';
import { ErrorBanner, StatusBadge, Unavailable } from '../components.tsx';
import { fullDateTime, num } from '../format.ts';
import { useDocumentTitle, useNow } from '../hooks.ts';
import { href, navigate } from '../router.ts';
import { JobScheduling } from './JobScheduling.tsx';
import { JobSummary } from './JobSummary.tsx';
import { JobTasks } from './JobTasks.tsx';
import { RenderPanel } from './RenderPanel.tsx';
import { StepsPanel } from './StepsPanel.tsx';
import { TaskPanel } from './TaskPanel.tsx';
import { TASK_FILTERS, type TaskFilter, useJobData } from './useJobData.ts';

export function JobPage({ jobId, params }: { jobId: string; params: URLSearchParams; sub?: string }) {
  const filter: TaskFilter = (TASK_FILTERS as readonly string[]).includes(params.get('tasks') ?? '')
    ? (params.get('tasks') as TaskFilter)
    : 'all';
  const offset = Math.max(0, Number.parseInt(params.get('offset') ?? '0', 10) || 0);
  const selectedTask = params.get('task');
  // render jobs: the frame shown large (none: follow the latest) and the frame grid's page
  const frameParam = Number.parseInt(params.get('frame') ?? '', 10);
  const selectedFrame = Number.isInteger(frameParam) && frameParam >= 0 ? frameParam : null;
  const frameOffset = Math.max(0, Number.parseInt(params.get('fo') ?? '0', 10) || 0);

  const { job, setJob, notFound, error, setError, tasks, tasksError, live, loadJob, loadTasks } = useJobData(jobId, offset, filter);
  const [acting, setActing] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const now = useNow(1000);
  useDocumentTitle(job ? job.name : 'Job');

  const go = (next: { filter?: TaskFilter; offset?: number; task?: string | null; frame?: number | null; frameOffset?: number }, replace = false) => {
    const f = next.filter ?? filter;
    const task = next.task === undefined ? selectedTask : next.task;
    const frame = next.frame === undefined ? selectedFrame : next.frame;
    navigate(
      href(`/jobs/${encodeURIComponent(jobId)}`, {
        tasks: f === 'all' ? undefined : f,
        offset: (next.offset ?? offset) || undefined,
        task: task ?? undefined,
        frame: frame ?? undefined,
        fo: (next.frameOffset ?? frameOffset) || undefined,
      }),
      replace,
    );
  };
  // stable for the memoized frame tiles
  const goRef = useRef(go);
  goRef.current = go;
  const selectFrame = useCallback((frame: number | null) => goRef.current({ frame }, true), []);
  const pageFrames = useCallback((o: number) => goRef.current({ frameOffset: o }), []);

  const act = async (action: 'start' | 'stop' | 'retry') => {
    if (action === 'stop' && !confirm('Stop this job? Running tasks are killed.')) return;
    setActing(action);
    try {
      const j = await api<Job>(`jobs/${encodeURIComponent(jobId)}/${action}`, { method: 'POST' });
      setJob(j);
      setError(null);
      void loadTasks();
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setActing(null);
    }
  };

  const actOnTasks = async (action: 'stop' | 'retry', numbers: readonly number[]): Promise<boolean> => {
    if (action === 'stop' && !confirm(`Stop ${numbers.length} task(s)? Running ones are killed.`)) return false;
    setActing(`tasks-${action}`);
    try {
      const answer = await api<{ job: Job; tasks: number[] }>(`jobs/${encodeURIComponent(jobId)}/tasks/${action}`, { method: 'POST', body: { tasks: taskNumbersSpec(numbers) } });
      setJob(answer.job);
      setError(null);
      setNotice(`${action === 'stop' ? 'Stopped' : 'Requeued'} task(s) ${taskNumbersSpec(answer.tasks).replace(/,/g, ', ')}.`);
      void loadTasks();
      return true;
    } catch (e) {
      setError(messageOf(e));
      return false;
    } finally {
      setActing(null);
    }
  };

  const keep = async (action: 'archive' | 'unarchive' | 'delete') => {
    if (action === 'delete' && !confirm('Delete this job for good? Its tasks, logs and results are removed.')) return;
    setActing(action);
    try {
      if (action === 'delete') {
        await api(`jobs/${encodeURIComponent(jobId)}`, { method: 'DELETE' });
        navigate(href('/jobs'));
        return;
      }
      setJob(await api<Job>(`jobs/${encodeURIComponent(jobId)}/${action}`, { method: 'POST' }));
      setError(null);
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setActing(null);
    }
  };

  if (notFound) {
    return (
      <div class="page">
        <Unavailable className="panel not-found" title="Job not found" testid="job-not-found" note={notFound} back={{ to: '/jobs', label: 'Back to the jobs' }} />
      </div>
    );
  }

  if (!job) {
    return (
      <div class="page">
        <ErrorBanner error={error} />
        {!error && <div class="loading-row">Loading job…</div>}
      </div>
    );
  }

  const failed = job.counts.error + job.counts.canceled;
  const canStart = job.status === 'created';
  const canStop = job.status === 'created' || job.status === 'queued' || job.status === 'running';
  const canRetry = failed > 0 && job.status !== 'created';
  const render = job.kind === 'render' && job.render ? job.render : null;
  const hasResults = job.counts.done + job.counts.error > 0 || (render?.framesDone ?? 0) > 0;
  const finished = job.status === 'done' || job.status === 'error' || job.status === 'canceled';

  return (
    <div class="page" data-testid="job-page" data-job-id={job.id}>
      <div class="breadcrumb">
        <a href={href('/jobs')}>Jobs</a> <span class="muted">/</span> <span class="mono">{job.id}</span>
      </div>
      <div class="page-header">
        <div class="page-title">
          <h1 data-testid="job-name">{job.name}</h1>
          <div class="page-sub">
            <StatusBadge status={job.status} testid="job-status" />
            <span class={`live${live ? ' on' : ''}`} title={live ? 'Live updates connected' : 'Reconnecting…'}>
              {live ? 'live' : 'reconnecting'}
            </span>
            <span>{job.kind} job</span>
            <span>by {job.owner}</span>
          </div>
        </div>
        <div class="page-actions">
          {canStart && (
            <button type="button" class="btn btn-primary" disabled={!!acting} onClick={() => act('start')} data-testid="job-start">
              ▶ Start
            </button>
          )}
          {canStop && (
            <button type="button" class="btn btn-danger" disabled={!!acting} onClick={() => act('stop')} data-testid="job-stop">
              ■ Stop
            </button>
          )}
          {canRetry && (
            <button type="button" class="btn" disabled={!!acting} onClick={() => act('retry')} data-testid="job-retry">
              ↻ Retry failed ({num(failed)})
            </button>
          )}
          <a
            class={`btn${hasResults ? '' : ' disabled'}`}
            href={apiUrl(`jobs/${encodeURIComponent(job.id)}/results.zip`)}
            download={`${job.id}.zip`}
            data-testid="job-download"
            aria-disabled={!hasResults}
            title={hasResults ? 'Download every finished task’s results as a zip' : 'No finished tasks yet'}
          >
            ⬇ Results .zip
          </a>
          {finished && (
            <button type="button" class="btn" disabled={!!acting} onClick={() => keep(job.archivedAt ? 'unarchive' : 'archive')} data-testid={job.archivedAt ? 'job-unarchive' : 'job-archive'}>
              {job.archivedAt ? 'Unarchive' : 'Archive'}
            </button>
          )}
          {(finished || job.status === 'created') && (
            <button type="button" class="btn btn-danger" disabled={!!acting} onClick={() => keep('delete')} data-testid="job-delete">
              Delete
            </button>
          )}
        </div>
      </div>
      {job.archivedAt && (
        <div class="banner banner-warn" role="status" data-testid="job-archived">
          Archived {fullDateTime(job.archivedAt)}: hidden from the job lists and counts; everything is kept.
        </div>
      )}
      {notice && (
        <div class="banner banner-ok" role="status" data-testid="task-action-notice">
          {notice}
        </div>
      )}

      <ErrorBanner error={error} onDismiss={() => setError(null)} />
      {job.unschedulable && (
        <div class="banner banner-warn" role="status" data-testid="job-unschedulable">
          <strong>Cannot be scheduled:</strong> {job.unschedulable}
        </div>
      )}

      <JobScheduling job={job} onJob={setJob} reload={loadJob} />

      <JobSummary job={job} now={now} finished={finished} />

      {render && (
        <RenderPanel job={{ ...job, render }} selected={selectedFrame} offset={frameOffset} onSelect={selectFrame} onOffset={pageFrames} />
      )}

      {job.steps && <StepsPanel steps={job.steps} />}
      <JobTasks
        job={job}
        tasks={tasks}
        tasksError={tasksError}
        filter={filter}
        offset={offset}
        selectedTask={selectedTask}
        now={now}
        acting={acting}
        go={go}
        onAct={actOnTasks}
      />

      {selectedTask && (
        <TaskPanel
          key={selectedTask}
          taskId={selectedTask}
          onClose={() => go({ task: null }, true)}
          onAct={(action, index) => void actOnTasks(action, [index])}
        />
      )}
    </div>
  );
}
