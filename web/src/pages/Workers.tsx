import { useState } from 'preact/hooks';
import { api, isAbort, messageOf, type Worker } from '../api.ts';
import { Empty, ErrorBanner, PageHeader, StatusBadge } from '../components.tsx';
import { ago, bytes, fullDateTime, num, plural } from '../format.ts';
import { useDocumentTitle, useNow, usePoll } from '../hooks.ts';
import { href } from '../router.ts';
import { PauseButton } from './WorkerAdmin.tsx';

export function labelList(labels: Worker['labels']): string[] {
  if (!labels) return [];
  if (Array.isArray(labels)) return labels.map(String);
  return Object.entries(labels).map(([k, v]) => (v === '' || v === undefined ? k : `${k}=${v}`));
}

function sandboxText(sandbox: Worker['sandbox']) {
  if (sandbox === true) return <span class="ok-text">confined</span>;
  if (sandbox === false) return <span class="muted">none (host)</span>;
  return sandbox ? <span class="mono">{sandbox}</span> : <span class="muted">—</span>;
}

const FINISHING_HINT =
  'With --prefetch an agent also holds tasks that start when a slot frees: they are leased (counted by the job as running) but use no slot yet.';
const UPLOADING_HINT = 'Their work is over and their results are on their way; the agent already uses their cores for its next task.';

/** The tasks at work: those uploading their results use no slot. */
const atWork = (w: Worker) => w.runningTasks.filter((t) => !t.uploading);

/**
 * Slots in use: the cores its tasks at work ask for, at most its slots. An agent never computes
 * more than its slots; tasks beyond them are held to start next (--prefetch).
 */
function busySlots(w: Worker): number {
  return Math.min(
    atWork(w).reduce((sum, t) => sum + (t.cores ?? 1), 0),
    w.slots,
  );
}

/** How many of its tasks at work do not fit in its slots (held to start next). */
function overSlots(w: Worker): number {
  let cores = 0;
  let fit = 0;
  for (const t of atWork(w)) {
    cores += t.cores ?? 1;
    if (cores <= w.slots) fit++;
  }
  return atWork(w).length - fit;
}

/** This coordinator's address as agents would use it (the page's, without a trailing slash). */
function coordinatorUrl(): string {
  return new URL('.', document.baseURI).href.replace(/\/$/, '');
}

export function Workers({ admin = false }: { admin?: boolean }) {
  const [workers, setWorkers] = useState<Worker[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  // Bumped after an admin's change: read the list again at once.
  const [changes, setChanges] = useState(0);
  const now = useNow(1000);
  useDocumentTitle('Workers');

  usePoll(
    async (signal) => {
      try {
        const answer = await api<{ workers: Worker[] }>('workers', { signal });
        setWorkers(answer.workers);
        setError(null);
      } catch (e) {
        if (!isAbort(e)) setError(messageOf(e));
      }
    },
    2000,
    [changes],
  );

  const online = workers?.filter((w) => w.status === 'online') ?? [];
  // Slots, not the machines' cores, are what jobs ask for (and what "cannot be scheduled" counts).
  const slots = online.reduce((sum, w) => sum + w.slots, 0);
  const busy = online.reduce((sum, w) => sum + busySlots(w), 0);

  return (
    <div class="page" data-testid="workers-page">
      <PageHeader
        title="Workers"
        sub={
          workers
            ? `${num(online.length)} of ${plural(workers.length, 'agent')} online · ${num(busy)} of ${plural(slots, 'task slot')} busy`
            : undefined
        }
      />
      <ErrorBanner error={error} />
      <div class="table-wrap">
        <table class="table" data-testid="worker-table">
          <thead>
            <tr>
              <th>Agent</th>
              <th class="col-status">State</th>
              <th class="num" title="Cores the agent lends to tasks (drover agent --slots): a task of size M needs 4">
                Slots
              </th>
              <th class="num hide-xs" title="The machine's CPU cores">
                CPUs
              </th>
              <th class="num hide-xs">Memory</th>
              <th class="hide-sm">Sandbox</th>
              <th>Current tasks</th>
              <th class="hide-xs">Last contact</th>
            </tr>
          </thead>
          <tbody>
            {workers?.map((w) => {
              const labels = labelList(w.labels);
              return (
                <tr key={w.id} data-testid="worker-row" data-worker-id={w.id} data-status={w.status}>
                  <td>
                    <a href={href(`/workers/${encodeURIComponent(w.id)}`)} class="job-name" data-testid="worker-link">
                      {w.name}
                    </a>
                    <span class="sub mono">
                      {w.id}
                      {w.version ? ` · v${w.version}` : ''}
                    </span>
                    {labels.length > 0 && (
                      <span class="labels">
                        {labels.map((l) => (
                          <span key={l} class="label">
                            {l}
                          </span>
                        ))}
                      </span>
                    )}
                  </td>
                  <td class="col-status">
                    <StatusBadge status={w.status} />
                    {w.paused && <StatusBadge status="paused" testid="worker-paused" />}
                    {admin && w.status !== 'offline' && (
                      <span class="sub">
                        <PauseButton worker={w} onChanged={() => setChanges((n) => n + 1)} onError={setError} />
                      </span>
                    )}
                  </td>
                  <td class="num nowrap" data-testid="worker-slots" data-busy={busySlots(w)} data-slots={w.slots}>
                    {busySlots(w)}
                    <span class="muted">/{w.slots}</span>
                  </td>
                  <td class="num hide-xs">{w.cores}</td>
                  <td class="num hide-xs nowrap">{bytes(w.memoryBytes)}</td>
                  <td class="hide-sm">{sandboxText(w.sandbox)}</td>
                  <td>
                    {w.runningTasks.length === 0 ? (
                      <span class="muted">idle</span>
                    ) : (
                      <span class="task-links">
                        {w.runningTasks.slice(0, 6).map((t, i) =>
                          // Another user's task comes without its ids: it shows only that the agent is busy.
                          t.id === null || t.jobId === null ? (
                            <span key={`other-${i}`} class="chip" title={`another user's task${t.uploading ? ': uploading its results' : ''}`}>
                              another user's task
                            </span>
                          ) : (
                            <a key={t.id} class="chip" href={href(`/jobs/${encodeURIComponent(t.jobId)}`, { task: t.id })} title={`${t.jobId} task ${t.index}${t.uploading ? ': uploading its results' : ''}`}>
                              {t.jobId.slice(0, 8)}…#{t.index}
                            </a>
                          ),
                        )}
                        {w.runningTasks.length > 6 && <span class="muted">+{w.runningTasks.length - 6}</span>}
                        {w.runningTasks.some((t) => t.uploading) && (
                          <span class="muted" data-testid="worker-uploading" title={UPLOADING_HINT}>
                            {num(w.runningTasks.filter((t) => t.uploading).length)} uploading results
                          </span>
                        )}
                        {overSlots(w) > 0 && (
                          <span class="muted" data-testid="worker-finishing" title={FINISHING_HINT}>
                            {plural(overSlots(w), 'more task')} waiting for a slot
                          </span>
                        )}
                      </span>
                    )}
                  </td>
                  <td class="hide-xs nowrap" title={fullDateTime(w.lastSeenAt)}>
                    {ago(w.lastSeenAt, now)}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
        {workers && workers.length === 0 && (
          <Empty>
            No agent has joined yet. Start one with <code>drover agent --server {coordinatorUrl()} --token JOIN_TOKEN</code> (the join
            token is in the coordinator's data folder, <code>agent-token</code>).
          </Empty>
        )}
        {!workers && !error && <div class="loading-row">Loading…</div>}
      </div>
    </div>
  );
}
