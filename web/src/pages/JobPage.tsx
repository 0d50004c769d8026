import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError, apiUrl, isAbort, messageOf, query, taskNumbersSpec, type Job, type Task, type TaskStatus } from '../api.ts';
import { Empty, ErrorBanner, Pager, ProgressBar, StatusBadge, Tabs, type TabItem } from '../components.tsx';
import { attemptsTitle, dateTime, duration, fullDateTime, liveDuration, num, seconds } from '../format.ts';
import { useDocumentTitle, useNow } from '../hooks.ts';
import { href, navigate } from '../router.ts';
import { openStream } from '../sse.ts';
import { JobScheduling } from './JobScheduling.tsx';
import { RenderPanel } from './RenderPanel.tsx';
import { StepsPanel } from './StepsPanel.tsx';
import { TaskPanel } from './TaskPanel.tsx';

const TASK_PAGE = 100;
const TASK_FILTERS = ['all', 'queued', 'running', 'done', 'error', 'canceled'] as const;
type TaskFilter = (typeof TASK_FILTERS)[number];

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

  const [job, setJob] = useState<Job | null>(null);
  const [notFound, setNotFound] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [tasks, setTasks] = useState<{ tasks: Task[]; total: number } | null>(null);
  const [tasksError, setTasksError] = useState<string | null>(null);
  const [acting, setActing] = useState<string | null>(null);
  /** Task numbers ticked in the task table, for the per-task actions. */
  const [picked, setPicked] = useState<Set<number>>(new Set());
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

  // ---- the job itself
  const loadJob = useCallback(async () => {
    try {
      const j = await api<Job>(`jobs/${encodeURIComponent(jobId)}`);
      setJob(j);
      setError(null);
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) setNotFound(e.message);
      else setError(messageOf(e));
    }
  }, [jobId]);

  // ---- the current page of tasks
  const tasksRequest = useRef<AbortController | null>(null);
  // When each task last came by the live stream: a page fetched before that must not overwrite it
  // (a page asked for right after "Retry failed" can arrive after the retried task already failed).
  const streamedAt = useRef(new Map<string, { at: number; task: Task }>());
  const loadTasks = useCallback(async () => {
    tasksRequest.current?.abort();
    const controller = new AbortController();
    tasksRequest.current = controller;
    const asked = performance.now();
    try {
      const page = await api<{ tasks: Task[]; total: number }>(
        `jobs/${encodeURIComponent(jobId)}/tasks${query({ offset, limit: TASK_PAGE, status: filter === 'all' ? undefined : filter })}`,
        { signal: controller.signal },
      );
      page.tasks = page.tasks.map((t) => {
        const streamed = streamedAt.current.get(t.id);
        return streamed && streamed.at > asked ? { ...t, ...streamed.task } : t;
      });
      setTasks(page);
      setTasksError(null);
    } catch (e) {
      if (isAbort(e)) return;
      if (e instanceof ApiError && e.status === 404) setNotFound(e.message);
      else setTasksError(messageOf(e));
    }
  }, [jobId, offset, filter]);

  useEffect(() => {
    void loadJob();
  }, [loadJob]);
  useEffect(() => {
    void loadTasks();
    return () => tasksRequest.current?.abort();
  }, [loadTasks]);

  // ---- live updates: `job` and `task` events, applied in small batches
  const tasksRef = useRef(tasks);
  tasksRef.current = tasks;
  const loadTasksRef = useRef(loadTasks);
  loadTasksRef.current = loadTasks;
  const view = useRef({ offset, filter });
  view.current = { offset, filter };
  const [live, setLive] = useState(false);
  useEffect(() => {
    if (notFound) return;
    const pending = new Map<string, Task>();
    let flushTimer: ReturnType<typeof setTimeout> | undefined;
    let refetchTimer: ReturnType<typeof setTimeout> | undefined;
    const refetchSoon = () => {
      if (refetchTimer === undefined) {
        refetchTimer = setTimeout(() => {
          refetchTimer = undefined;
          void loadTasksRef.current();
        }, 800);
      }
    };
    const flush = () => {
      flushTimer = undefined;
      const updates = [...pending.values()];
      pending.clear();
      const { offset: o, filter: f } = view.current;
      let needRefetch = false;
      const current = tasksRef.current;
      if (current) {
        const byId = new Map(current.tasks.map((t, i) => [t.id, i]));
        const next = current.tasks.slice();
        for (const task of updates) {
          const at = byId.get(task.id);
          if (at !== undefined) {
            next[at] = { ...next[at]!, ...task };
            // it left the filtered view (or moved in another): fetch the page again
            if (f !== 'all' && task.status !== f) needRefetch = true;
          } else if (f === 'all' ? task.index > o && task.index <= o + TASK_PAGE : task.status === f) {
            needRefetch = true;
          }
        }
        const updated = { ...current, tasks: next };
        tasksRef.current = updated;
        setTasks(updated);
      }
      if (needRefetch) refetchSoon();
    };
    const stream = openStream(`jobs/${encodeURIComponent(jobId)}/events`, {
      events: {
        job: (data) => setJob(data as Job),
        task: (data) => {
          const task = data as Task;
          if (!task || typeof task.id !== 'string') return;
          streamedAt.current.set(task.id, { at: performance.now(), task });
          pending.set(task.id, task);
          if (flushTimer === undefined) flushTimer = setTimeout(flush, 200);
        },
      },
      onOpen: (first) => {
        setLive(true);
        if (!first) {
          void loadJob();
          void loadTasksRef.current();
        }
      },
      onFailure: () => {
        setLive(false);
        void loadJob();
      },
    });
    // a safety net should the stream be cut silently (proxies): refresh while it is not open
    const poll = setInterval(() => {
      if (!stream.connected) {
        setLive(false);
        void loadJob();
        void loadTasksRef.current();
      }
    }, 5000);
    return () => {
      stream.close();
      clearInterval(poll);
      clearTimeout(flushTimer);
      clearTimeout(refetchTimer);
    };
  }, [jobId, notFound, loadJob]);

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

  const actOnTasks = async (action: 'stop' | 'retry', numbers: readonly number[]) => {
    if (action === 'stop' && !confirm(`Stop ${numbers.length} task(s)? Running ones are killed.`)) return;
    setActing(`tasks-${action}`);
    try {
      const answer = await api<{ job: Job; tasks: number[] }>(`jobs/${encodeURIComponent(jobId)}/tasks/${action}`, { method: 'POST', body: { tasks: taskNumbersSpec(numbers) } });
      setJob(answer.job);
      setError(null);
      setPicked(new Set());
      setNotice(`${action === 'stop' ? 'Stopped' : 'Requeued'} task(s) ${taskNumbersSpec(answer.tasks).replace(/,/g, ', ')}.`);
      void loadTasks();
    } catch (e) {
      setError(messageOf(e));
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
        <div class="panel not-found" data-testid="job-not-found">
          <h1>Job not found</h1>
          <p class="muted">{notFound}</p>
          <p>
            <a href={href('/jobs')}>Back to the jobs</a>
          </p>
        </div>
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
  const taskTabs: TabItem[] = TASK_FILTERS.map((key) => ({
    key,
    label: key === 'all' ? 'All' : key[0]!.toUpperCase() + key.slice(1),
    // The tabs filter by task state: a task uploading its results is in state running.
    count: key === 'all' ? job.taskCount : key === 'running' ? job.counts.running + (job.counts.uploading ?? 0) : job.counts[key as TaskStatus],
  }));

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

      {render && (
        <RenderPanel job={{ ...job, render }} selected={selectedFrame} offset={frameOffset} onSelect={selectFrame} onOffset={pageFrames} />
      )}

      {job.steps && <StepsPanel steps={job.steps} />}
      <section class="tasks-section" aria-label="Tasks">
        <div class="section-head">
          <h2>Tasks</h2>
          <TaskJump jobId={job.id} taskCount={job.taskCount} onFound={(task, index) => go({ task, filter: 'all', offset: Math.floor((index - 1) / TASK_PAGE) * TASK_PAGE })} />
        </div>
        <Tabs label="Task status" items={taskTabs} active={filter} onSelect={(key) => go({ filter: key as TaskFilter, offset: 0 })} />
        <ErrorBanner error={tasksError} />
        {picked.size > 0 && (
          <div class="selection-bar" data-testid="task-selection">
            <span>{picked.size} task(s) selected</span>
            <button type="button" class="btn" disabled={!!acting} onClick={() => actOnTasks('retry', [...picked])} data-testid="tasks-retry">
              ↻ Rerun
            </button>
            <button type="button" class="btn btn-danger" disabled={!!acting} onClick={() => actOnTasks('stop', [...picked])} data-testid="tasks-stop">
              ■ Stop
            </button>
            <button type="button" class="btn btn-ghost" onClick={() => setPicked(new Set())}>
              Clear
            </button>
          </div>
        )}
        <div class="table-wrap">
          <table class="table table-tasks" data-testid="task-table">
            <thead>
              <tr>
                <th class="col-pick">
                  <input
                    type="checkbox"
                    aria-label="Select every task on this page"
                    data-testid="task-pick-all"
                    checked={!!tasks && tasks.tasks.length > 0 && tasks.tasks.every((t) => picked.has(t.index))}
                    onChange={(e) => setPicked(e.currentTarget.checked ? new Set([...picked, ...(tasks?.tasks ?? []).map((t) => t.index)]) : new Set())}
                  />
                </th>
                <th class="num col-index">#</th>
                <th>Input</th>
                <th class="col-status">State</th>
                <th class="num">Attempts</th>
                <th class="hide-sm">Agent</th>
                <th class="num">Duration</th>
                <th class="num hide-xs">Exit</th>
              </tr>
            </thead>
            <tbody>
              {tasks?.tasks.map((task) => (
                <tr
                  key={task.id}
                  class={`row-link${task.id === selectedTask ? ' selected' : ''}`}
                  data-testid="task-row"
                  data-task-id={task.id}
                  data-status={task.status}
                  tabIndex={0}
                  onClick={() => go({ task: task.id })}
                  onKeyDown={(e) => {
                    if (e.key === 'Enter' || e.key === ' ') {
                      e.preventDefault();
                      go({ task: task.id });
                    }
                  }}
                >
                  <td class="col-pick" onClick={(e) => e.stopPropagation()}>
                    <input
                      type="checkbox"
                      aria-label={`Select task ${task.index}`}
                      data-testid="task-pick"
                      checked={picked.has(task.index)}
                      onChange={(e) => {
                        const next = new Set(picked);
                        if (e.currentTarget.checked) next.add(task.index);
                        else next.delete(task.index);
                        setPicked(next);
                      }}
                    />
                  </td>
                  <td class="num mono col-index">{task.index}</td>
                  <td class="mono ellipsis" title={task.input}>
                    <span data-testid="task-input">{task.input}</span>
                    {task.error && <span class="sub err-text">{task.error}</span>}
                    {task.warning && (
                      <span class="sub warn-text" data-testid="task-warning">
                        Warning: {task.warning}
                      </span>
                    )}
                  </td>
                  <td class="col-status">
                    <StatusBadge status={task.status} />
                  </td>
                  <td class="num nowrap" data-testid="task-attempts" title={attemptsTitle(task.tries ?? task.attempts, task.attempts)}>
                    {task.tries ?? task.attempts}
                    <span class="muted">/{task.maxAttempts}</span>
                  </td>
                  <td class="hide-sm ellipsis">{task.agent ?? <span class="muted">—</span>}</td>
                  <td class="num nowrap">{duration(liveDuration(task, now))}</td>
                  <td class={`num mono hide-xs${task.exitCode ? ' err-text' : ''}`}>{task.exitCode ?? '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {tasks && tasks.tasks.length === 0 && <Empty>No {filter === 'all' ? '' : filter + ' '}tasks.</Empty>}
          {!tasks && !tasksError && <div class="loading-row">Loading tasks…</div>}
        </div>
        {tasks && tasks.total > TASK_PAGE && (
          <Pager testid="task-pager" offset={offset} limit={TASK_PAGE} total={tasks.total} onChange={(o) => go({ offset: o })} />
        )}
      </section>

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

/** "Task #" box: opens the task of that number, whatever page or tab it is on. */
function TaskJump({ jobId, taskCount, onFound }: { jobId: string; taskCount: number; onFound: (taskId: string, index: number) => void }) {
  const [value, setValue] = useState('');
  const [problem, setProblem] = useState<string | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    const index = Number(value);
    if (!Number.isInteger(index) || index < 1 || index > taskCount) {
      setProblem(`Tasks are numbered 1 to ${num(taskCount)}.`);
      return;
    }
    try {
      const page = await api<{ tasks: Task[] }>(`jobs/${encodeURIComponent(jobId)}/tasks${query({ offset: index - 1, limit: 1 })}`);
      const task = page.tasks[0];
      if (!task) return setProblem(`No task #${index}.`);
      setProblem(null);
      onFound(task.id, task.index);
    } catch (err) {
      setProblem(messageOf(err));
    }
  };
  return (
    <form class="task-jump" onSubmit={submit} data-testid="task-jump" noValidate>
      <label for="task-jump-input">Task #</label>
      <input
        id="task-jump-input"
        type="number"
        min={1}
        max={taskCount}
        placeholder={`1–${num(taskCount)}`}
        value={value}
        onInput={(e) => {
          setValue(e.currentTarget.value);
          setProblem(null);
        }}
        data-testid="task-jump-input"
      />
      <button type="submit" class="btn btn-small">
        Open
      </button>
      {problem && (
        <span class="err-text" role="alert" data-testid="task-jump-error">
          {problem}
        </span>
      )}
    </form>
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
