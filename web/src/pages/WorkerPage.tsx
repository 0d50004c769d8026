// One agent's page (#/workers/ID): what it is and can run, its latest task attempts and failures.
import { useState } from 'preact/hooks';
import { api, ApiError, isAbort, messageOf, type WorkerDetail } from '../api.ts';
import { Empty, ErrorBanner, StatusBadge, Unavailable } from '../components.tsx';
import { ago, bytes, dateTime, duration, fullDateTime, num, plural } from '../format.ts';
import { useDocumentTitle, useNow, usePoll } from '../hooks.ts';
import { href } from '../router.ts';
import { WorkerAdmin } from './WorkerAdmin.tsx';
import { labelList } from './Workers.tsx';

export function WorkerPage({ workerId, admin = false }: { workerId: string; admin?: boolean }) {
  const [worker, setWorker] = useState<WorkerDetail | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [missing, setMissing] = useState(false);
  // Bumped after an admin's change: read the agent again at once.
  const [changes, setChanges] = useState(0);
  const now = useNow(1000);
  useDocumentTitle(worker ? worker.name : 'Agent');

  usePoll(
    async (signal) => {
      try {
        setWorker(await api<WorkerDetail>(`workers/${encodeURIComponent(workerId)}`, { signal }));
        setError(null);
      } catch (e) {
        if (e instanceof ApiError && e.status === 404) setMissing(true);
        else if (!isAbort(e)) setError(messageOf(e));
      }
    },
    3000,
    [workerId, changes],
  );

  if (missing) {
    return (
      <div class="page">
        <Unavailable className="panel not-found" title="Agent not found" testid="worker-not-found" back={{ to: '/workers', label: 'Back to the workers' }} />
      </div>
    );
  }
  if (!worker) {
    return (
      <div class="page">
        <ErrorBanner error={error} />
        {!error && <div class="loading-row">Loading agent…</div>}
      </div>
    );
  }

  const failed = worker.recent.filter((a) => a.status === 'error');
  const labels = labelList(worker.labels);
  return (
    <div class="page" data-testid="worker-page" data-worker-id={worker.id}>
      <div class="breadcrumb">
        <a href={href('/workers')}>Workers</a> <span class="muted">/</span> <span class="mono">{worker.id}</span>
      </div>
      <div class="page-header">
        <div class="page-title">
          <h1 data-testid="worker-name">{worker.name}</h1>
          <div class="page-sub">
            <StatusBadge status={worker.status} testid="worker-status" />
            {worker.paused && <StatusBadge status="paused" testid="worker-paused" />}
            <span title={fullDateTime(worker.lastSeenAt)}>last heard {ago(worker.lastSeenAt, now)}</span>
            {worker.version && <span>v{worker.version}</span>}
          </div>
        </div>
      </div>
      <ErrorBanner error={error} />
      {admin && <WorkerAdmin worker={worker} onChanged={() => setChanges((n) => n + 1)} />}

      <section class="panel stats" aria-label="Agent">
        <Fact
          label="Slots busy"
          value={`${Math.min(worker.runningCores, worker.slots)} of ${worker.slots}${worker.uploadingTasks ? ` · ${num(worker.uploadingTasks)} uploading` : ''}`}
          testid="worker-busy"
        />
        <Fact label="CPUs" value={num(worker.cores)} />
        <Fact label="Memory" value={bytes(worker.memoryBytes)} />
        <Fact label="Host tasks" value={worker.sandbox === true ? 'confined' : worker.sandbox === false ? 'not confined' : '—'} />
        <div class="stat stat-wide">
          <div class="stat-label">Can run</div>
          <div class="can-run" data-testid="worker-can-run">
            {worker.canRun.map((c) => (
              <span key={c.instanceType} class={`chip${c.fits ? ' ok' : ' no'}`} data-fits={c.fits} title={c.fits ? `${plural(c.cores, 'core')} fit its ${plural(worker.slots, 'slot')}` : `needs ${plural(c.cores, 'slot')}, it has ${worker.slots}`}>
                {c.fits ? '✓' : '✗'} {c.instanceType.toUpperCase()} · {plural(c.cores, 'core')}
              </span>
            ))}
            {labels.map((l) => (
              <span key={l} class="label">
                {l}
              </span>
            ))}
          </div>
        </div>
      </section>

      {worker.blockedBy.length > 0 && (
        <div class="banner banner-warn" role="status" data-testid="worker-blocked">
          <strong>Given up by {plural(worker.blockedBy.length, 'job')}</strong> after too many of their tasks failed here:{' '}
          {worker.blockedBy.map((b, i) => (
            <span key={b.jobId}>
              {i > 0 && ', '}
              <a href={href(`/jobs/${encodeURIComponent(b.jobId)}`)}>{b.jobName}</a> ({plural(b.failures, 'failure')})
            </span>
          ))}
        </div>
      )}

      <section class="tasks-section" aria-label="Recent tasks">
        <div class="section-head">
          <h2>
            Recent tasks{' '}
            <span class="muted" data-testid="worker-failures">
              {plural(worker.recent.length, 'attempt')} · {num(failed.length)} failed
            </span>
          </h2>
        </div>
        <div class="table-wrap">
          <table class="table" data-testid="worker-recent">
            <thead>
              <tr>
                <th>Job</th>
                <th class="num">Task</th>
                <th class="num hide-xs">Attempt</th>
                <th class="col-status">State</th>
                <th class="num">Duration</th>
                <th class="hide-sm">Started</th>
              </tr>
            </thead>
            <tbody>
              {worker.recent.map((a) => (
                <tr key={`${a.taskId}:${a.attempt}`} data-testid="worker-attempt" data-status={a.status}>
                  <td class="ellipsis">
                    <a href={href(`/jobs/${encodeURIComponent(a.jobId)}`, { task: a.taskId })}>{a.jobName}</a>
                    {a.error && <span class="sub err-text">{a.error}</span>}
                  </td>
                  <td class="num mono">#{a.index}</td>
                  <td class="num hide-xs">{a.attempt}</td>
                  <td class="col-status">
                    <StatusBadge status={a.status} />
                  </td>
                  <td class="num nowrap">{duration(a.startedAt ? (a.finishedAt ? Date.parse(a.finishedAt) : now) - Date.parse(a.startedAt) : null)}</td>
                  <td class="hide-sm nowrap" title={fullDateTime(a.startedAt)}>
                    {dateTime(a.startedAt, now)}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {worker.recent.length === 0 && <Empty>No task has run here yet.</Empty>}
        </div>
      </section>
    </div>
  );
}

function Fact({ label, value, testid }: { label: string; value: string; testid?: string }) {
  return (
    <div class="stat">
      <div class="stat-label">{label}</div>
      <div class="stat-value" data-testid={testid}>
        {value}
      </div>
    </div>
  );
}
