// A job page's task table: the state tabs, the "Task #" box, a selection with its actions, and the pager.
import { useState } from 'preact/hooks';
import { api, messageOf, query, type Job, type Task, type TaskStatus } from '../api.ts';
import { Empty, ErrorBanner, Pager, PickBox, SelectionBar, StatusBadge, Tabs, type TabItem } from '../components.tsx';
import { attemptsTitle, duration, liveDuration, num } from '../format.ts';
import { TASK_FILTERS, TASK_PAGE, type TaskFilter, type TaskPage } from './useJobData.ts';

/** Where the job page goes: a tab, a page of tasks, a task opened (null: closed). */
export type TasksView = { filter?: TaskFilter; offset?: number; task?: string | null };

export function JobTasks({
  job,
  tasks,
  tasksError,
  filter,
  offset,
  selectedTask,
  now,
  acting,
  go,
  onAct,
}: {
  job: Job;
  tasks: TaskPage | null;
  tasksError: string | null;
  filter: TaskFilter;
  offset: number;
  selectedTask: string | null;
  now: number;
  acting: string | null;
  go: (next: TasksView) => void;
  /** Stops or reruns tasks by number; true once done (the selection is then cleared). */
  onAct: (action: 'stop' | 'retry', numbers: readonly number[]) => Promise<boolean>;
}) {
  /** Task numbers ticked in the task table, for the per-task actions. */
  const [picked, setPicked] = useState<Set<number>>(new Set());
  const actOnTasks = async (action: 'stop' | 'retry', numbers: readonly number[]) => {
    if (await onAct(action, numbers)) setPicked(new Set());
  };
  const taskTabs: TabItem[] = TASK_FILTERS.map((key) => ({
    key,
    label: key === 'all' ? 'All' : key[0]!.toUpperCase() + key.slice(1),
    // The tabs filter by task state: a task uploading its results is in state running.
    count: key === 'all' ? job.taskCount : key === 'running' ? job.counts.running + (job.counts.uploading ?? 0) : job.counts[key as TaskStatus],
  }));

  return (
    <section class="tasks-section" aria-label="Tasks">
      <div class="section-head">
        <h2>Tasks</h2>
        <TaskJump jobId={job.id} taskCount={job.taskCount} onFound={(task, index) => go({ task, filter: 'all', offset: Math.floor((index - 1) / TASK_PAGE) * TASK_PAGE })} />
      </div>
      <Tabs label="Task status" items={taskTabs} active={filter} onSelect={(key) => go({ filter: key as TaskFilter, offset: 0 })} />
      <ErrorBanner error={tasksError} />
      {picked.size > 0 && (
        <SelectionBar count={picked.size} noun="task" testid="task-selection" onClear={() => setPicked(new Set())}>
          <button type="button" class="btn" disabled={!!acting} onClick={() => actOnTasks('retry', [...picked])} data-testid="tasks-retry">
            ↻ Rerun
          </button>
          <button type="button" class="btn btn-danger" disabled={!!acting} onClick={() => actOnTasks('stop', [...picked])} data-testid="tasks-stop">
            ■ Stop
          </button>
        </SelectionBar>
      )}
      <div class="table-wrap">
        <table class="table table-tasks" data-testid="task-table">
          <thead>
            <tr>
              <th class="col-pick">
                <PickBox
                  label="Select every task on this page"
                  testid="task-pick-all"
                  checked={!!tasks && tasks.tasks.length > 0 && tasks.tasks.every((t) => picked.has(t.index))}
                  onPick={(on) => setPicked(on ? new Set([...picked, ...(tasks?.tasks ?? []).map((t) => t.index)]) : new Set())}
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
                  <PickBox
                    label={`Select task ${task.index}`}
                    testid="task-pick"
                    checked={picked.has(task.index)}
                    onPick={(on) => {
                      const next = new Set(picked);
                      if (on) next.add(task.index);
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
