// A job page's data: the job, the current page of its tasks, and the live stream that keeps both
// current (events applied in small batches; a page fetched before a streamed task never overwrites it).
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError, isAbort, messageOf, query, type Job, type Task } from '../api.ts';
import { openStream } from '../sse.ts';

export const TASK_PAGE = 100;
export const TASK_FILTERS = ['all', 'queued', 'running', 'done', 'error', 'canceled'] as const;
export type TaskFilter = (typeof TASK_FILTERS)[number];
export type TaskPage = { tasks: Task[]; total: number };

export function useJobData(jobId: string, offset: number, filter: TaskFilter) {
  const [job, setJob] = useState<Job | null>(null);
  const [notFound, setNotFound] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [tasks, setTasks] = useState<TaskPage | null>(null);
  const [tasksError, setTasksError] = useState<string | null>(null);
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

  return { job, setJob, notFound, error, setError, tasks, tasksError, live, loadJob, loadTasks };
}
