import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { api, apiUrl, messageOf, query, type Attempt, type LogEntry, type Task, type TaskDetail } from '../api.ts';
import { ErrorBanner, StatusBadge } from '../components.tsx';
import { attemptsTitle, bytes, dateTime, duration, fullDateTime, liveDuration, num, plural } from '../format.ts';
import { useNow } from '../hooks.ts';
import { openStream } from '../sse.ts';

/** Most entries kept in the page; older output is dropped (the full log is in the results). */
const MAX_ENTRIES = 20000;
const MAX_BACKLOG_PAGES = 50;

export function TaskPanel({ taskId, onClose, onAct }: { taskId: string; onClose: () => void; onAct?: (action: 'stop' | 'retry', index: number) => void }) {
  const [task, setTask] = useState<TaskDetail | null>(null);
  const [error, setError] = useState<string | null>(null);
  // null follows the latest attempt: its log alone, switching as a new attempt starts
  const [attempt, setAttempt] = useState<number | null>(null);
  const [entries, setEntries] = useState<LogEntry[]>([]);
  const [trimmed, setTrimmed] = useState(false);
  const [ended, setEnded] = useState(false);
  const [follow, setFollow] = useState(true);
  const [search, setSearch] = useState('');
  const logRef = useRef<HTMLPreElement>(null);
  const now = useNow(1000);

  const loadTask = async () => {
    try {
      setTask(await api<TaskDetail>(`tasks/${encodeURIComponent(taskId)}`));
    } catch (e) {
      setError(messageOf(e));
    }
  };

  useEffect(() => {
    void loadTask();
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') onClose();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [taskId]);

  const latestAttempt = task ? (task.attempts.length > 0 ? Math.max(...task.attempts.map((a) => a.attempt)) : 0) : null;
  // The log shown: the chosen attempt, else the latest one (0: the task never started, no log).
  const shownAttempt = attempt ?? latestAttempt;

  // backlog (GET …/logs, paged with `after`) then the live stream; entries are de-duplicated by
  // (attempt, seq), so it does not matter whether the stream replays what the backlog returned
  useEffect(() => {
    if (shownAttempt === null) return; // the task is not loaded yet: which attempt is latest is unknown
    const seen = new Set<string>();
    let buffer: LogEntry[] = [];
    let all: LogEntry[] = [];
    let frame = 0;
    let stopped = false;
    setEntries([]);
    setTrimmed(false);
    setEnded(false);
    const add = (list: LogEntry[]) => {
      for (const entry of list) {
        const key = `${entry.attempt}:${entry.seq}`;
        if (seen.has(key)) continue;
        seen.add(key);
        buffer.push(entry);
      }
      if (!frame && buffer.length) frame = requestAnimationFrame(flush);
    };
    const flush = () => {
      frame = 0;
      if (stopped) return;
      all = all.concat(buffer);
      buffer = [];
      all.sort((a, b) => a.attempt - b.attempt || a.seq - b.seq);
      if (all.length > MAX_ENTRIES) {
        all = all.slice(all.length - MAX_ENTRIES);
        setTrimmed(true);
      }
      setEntries(all);
    };
    const attemptQuery = shownAttempt === 0 ? {} : { attempt: shownAttempt };
    let stream: { close(): void } | null = null;
    const start = async () => {
      try {
        let after: number | undefined;
        for (let page = 0; page < MAX_BACKLOG_PAGES && !stopped; page++) {
          const answer = await api<{ entries: LogEntry[] }>(`tasks/${encodeURIComponent(taskId)}/logs${query({ ...attemptQuery, after })}`);
          const fresh = answer.entries.filter((e) => !seen.has(`${e.attempt}:${e.seq}`));
          add(answer.entries);
          if (fresh.length === 0) break;
          const last = answer.entries[answer.entries.length - 1]!.seq;
          if (after !== undefined && last <= after) break;
          after = last;
        }
      } catch (e) {
        if (!stopped) setError(messageOf(e));
      }
      if (stopped) return;
      stream = openStream(`tasks/${encodeURIComponent(taskId)}/logs/stream${query(attemptQuery)}`, {
        events: {
          log: (data) => {
            const entry = data as LogEntry;
            if (entry && typeof entry.seq === 'number') add([entry]);
          },
          task: (data) => {
            const update = data as Task;
            if (!update || typeof update.id !== 'string') return;
            setTask((current) => {
              if (!current) return current;
              const { attempts, ...rest } = update;
              if (attempts !== current.attempts.length) void loadTask();
              return { ...current, ...rest };
            });
          },
          end: () => {
            setEnded(true);
            stream?.close();
            void loadTask();
          },
        },
      });
    };
    void start();
    return () => {
      stopped = true;
      cancelAnimationFrame(frame);
      stream?.close();
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [taskId, shownAttempt]);

  // keep the newest output in view while following
  useLayoutEffect(() => {
    const el = logRef.current;
    if (el && follow) el.scrollTop = el.scrollHeight;
  }, [entries, follow]);

  const onScroll = () => {
    const el = logRef.current;
    if (!el) return;
    const atBottom = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
    if (atBottom !== follow) setFollow(atBottom);
  };

  const attempts: Attempt[] = task?.attempts ?? [];

  return (
    <div class="drawer-backdrop" onClick={(e) => e.target === e.currentTarget && onClose()}>
      <div class="drawer" role="dialog" aria-modal="true" aria-label={`Task ${task?.index ?? ''}`} data-testid="task-panel" data-task-id={taskId}>
        <header class="drawer-head">
          <div>
            <h2>
              Task {task ? `#${task.index}` : ''}{' '}
              {task && <StatusBadge status={task.status} testid="task-status" />}
            </h2>
            <div class="sub mono">{task?.input ?? taskId}</div>
          </div>
          <button type="button" class="btn-icon btn-close" aria-label="Close" onClick={onClose} data-testid="task-close">
            ×
          </button>
        </header>
        <ErrorBanner error={error} />
        {task && onAct && (
          <div class="drawer-actions">
            {(task.status === 'done' || task.status === 'error' || task.status === 'canceled') && (
              <button type="button" class="btn" onClick={() => onAct('retry', task.index)} data-testid="task-rerun">
                ↻ Rerun this task
              </button>
            )}
            {(task.status === 'pending' || task.status === 'queued' || task.status === 'running') && (
              <button type="button" class="btn btn-danger" onClick={() => onAct('stop', task.index)} data-testid="task-stop">
                ■ Stop this task
              </button>
            )}
          </div>
        )}
        {task && (
          <dl class="kv kv-compact">
            <div>
              <dt>Agent</dt>
              <dd>{task.agent ?? '—'}</dd>
            </div>
            <div>
              <dt>Attempts</dt>
              <dd data-testid="task-panel-attempts" title={attemptsTitle(task.tries ?? attempts.length, attempts.length)}>
                {task.tries ?? attempts.length}/{task.maxAttempts}
                {attempts.length > (task.tries ?? attempts.length) && <span class="muted"> ({attempts.length} in all)</span>}
              </dd>
            </div>
            <div>
              <dt>Duration</dt>
              <dd>{duration(liveDuration(task, now))}</dd>
            </div>
            <div>
              <dt>Exit code</dt>
              <dd class="mono">{task.exitCode ?? '—'}</dd>
            </div>
            <div>
              <dt>Started</dt>
              <dd title={fullDateTime(task.startedAt)}>{dateTime(task.startedAt, now)}</dd>
            </div>
            <div>
              <dt>Finished</dt>
              <dd title={fullDateTime(task.finishedAt)}>{dateTime(task.finishedAt, now)}</dd>
            </div>
          </dl>
        )}
        {task?.error && <div class="banner banner-error">{task.error}</div>}
        {attempts.length > 1 && (
          <div class="attempts" role="group" aria-label="Attempt">
            <button type="button" class={`chip${attempt === null ? ' active' : ''}`} onClick={() => setAttempt(null)} data-testid="attempt-latest">
              Latest
            </button>
            {attempts.map((a) => (
              <button
                type="button"
                key={a.attempt}
                class={`chip${attempt === a.attempt ? ' active' : ''}`}
                data-testid="attempt-chip"
                onClick={() => setAttempt(a.attempt)}
                title={`${a.status}${a.agent ? ` on ${a.agent}` : ''}${a.error ? `: ${a.error}` : ''}`}
              >
                #{a.attempt} <span class={`dot dot-${a.status}`} />
              </button>
            ))}
          </div>
        )}
        {task?.files && task.files.length > 0 && <TaskFiles jobId={task.jobId} files={task.files} />}
        <div class="log-head">
          <span>Log</span>
          <span class="muted">{ended || (task && ['done', 'error', 'canceled'].includes(task.status)) ? 'ended' : 'live'}</span>
          {!follow && !search && (
            <button type="button" class="btn-link" onClick={() => setFollow(true)}>
              ↓ Follow
            </button>
          )}
          <span class="log-tools">
            <input
              type="search"
              class="log-search"
              placeholder="Search the log…"
              aria-label="Search the log"
              value={search}
              onInput={(e) => setSearch(e.currentTarget.value)}
              data-testid="log-search"
            />
            <button type="button" class="btn btn-small" disabled={entries.length === 0} onClick={() => downloadLog(task, shownAttempt, entries)} data-testid="log-download">
              ⬇ Log
            </button>
          </span>
        </div>
        <pre class="log" ref={logRef} onScroll={onScroll} data-testid="task-log" aria-live="off">
          {trimmed && <span class="log-system">… earlier output trimmed; the full log is in the results (stdout.txt, stderr.txt)\n</span>}
          {entries.length === 0 && <span class="log-system">{task?.status === 'queued' ? 'Waiting for an agent…' : 'No output yet.'}</span>}
          {search.trim() ? <SearchedLines entries={entries} search={search.trim()} /> : renderEntries(entries)}
        </pre>
      </div>
    </div>
  );
}

/** The task's files, each a download (the job's file route checks it belongs to the job). */
function TaskFiles({ jobId, files }: { jobId: string; files: NonNullable<TaskDetail['files']> }) {
  const [open, setOpen] = useState(files.length <= 6);
  const total = files.reduce((sum, f) => sum + f.size, 0);
  return (
    <details class="task-files" open={open} onToggle={(e) => setOpen(e.currentTarget.open)} data-testid="task-files">
      <summary>
        Files <span class="muted">{plural(files.length, 'file')} · {bytes(total)}</span>
      </summary>
      <ul>
        {files.map((f) => (
          <li key={f.path}>
            <a href={apiUrl(`jobs/${encodeURIComponent(jobId)}/files/${f.sha256}`)} download={f.path.split('/').pop()} class="mono" data-testid="task-file" data-size={f.size}>
              {f.path}
            </a>
            <span class="file-size">{bytes(f.size)}</span>
          </li>
        ))}
      </ul>
    </details>
  );
}

/** Saves the log as shown (one attempt, or all) as a text file. */
function downloadLog(task: TaskDetail | null, attempt: number | null, entries: LogEntry[]): void {
  const text = entries.map((e) => (e.data.endsWith('\n') || e.stream !== 'system' ? e.data : e.data + '\n')).join('');
  const url = URL.createObjectURL(new Blob([text], { type: 'text/plain' }));
  const link = document.createElement('a');
  link.href = url;
  link.download = `${task ? `${task.jobId}-task-${String(task.index).padStart(4, '0')}` : 'task'}${attempt ? `-attempt-${attempt}` : ''}.log`;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** The log's lines that hold `search` (any case), the match marked. */
function SearchedLines({ entries, search }: { entries: LogEntry[]; search: string }) {
  const needle = search.toLowerCase();
  const lines = entries
    .map((e) => e.data)
    .join('')
    .split('\n')
    .filter((line) => line.toLowerCase().includes(needle));
  return (
    <>
      <span class="log-system" data-testid="log-matches">{`${num(lines.length)} ${lines.length === 1 ? 'line holds' : 'lines hold'} “${search}”\n`}</span>
      {lines.map((line, i) => {
        const at = line.toLowerCase().indexOf(needle);
        return (
          <span key={i} class="log-stdout">
            {line.slice(0, at)}
            <mark>{line.slice(at, at + search.length)}</mark>
            {line.slice(at + search.length)}
            {'\n'}
          </span>
        );
      })}
    </>
  );
}

function renderEntries(entries: LogEntry[]) {
  const out = [];
  let attempt = -1;
  const multi = entries.length > 0 && entries[0]!.attempt !== entries[entries.length - 1]!.attempt;
  for (const entry of entries) {
    if (multi && entry.attempt !== attempt) {
      attempt = entry.attempt;
      out.push(
        <span key={`a${attempt}`} class="log-attempt">
          {`── attempt ${attempt} ──\n`}
        </span>,
      );
    }
    const text = entry.data.endsWith('\n') || entry.stream !== 'system' ? entry.data : entry.data + '\n';
    out.push(
      <span key={`${entry.attempt}:${entry.seq}`} class={`log-${entry.stream}`}>
        {text}
      </span>,
    );
  }
  return out;
}
