// The job page's scheduling panel: why the job waits (live), its priority (the owner or an admin
// changes it while it has not ended: PATCH /jobs/:id), the jobs it runs after, with links and their
// states, what its tasks ask of an agent, and the agents it gave up on.
import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, messageOf, type Job, type JobStatus } from '../api.ts';
import { StatusBadge } from '../components.tsx';
import { href } from '../router.ts';

const WAITING_STATES: readonly JobStatus[] = ['created', 'queued'];
/** How often a waiting job is read again: what holds it back changes with other jobs and agents, which its stream does not carry. */
const WAITING_REFRESH_MS = 3000;

/** A `waiting` sentence with its job ids as links and `commands` as code. */
export function WaitingText({ text }: { text: string }) {
  const parts: ComponentChildren[] = [];
  const pattern = /`([^`]+)`|\b(j_[A-Za-z0-9_-]+)/g;
  let last = 0;
  for (let m = pattern.exec(text); m; m = pattern.exec(text)) {
    if (m.index > last) parts.push(text.slice(last, m.index));
    if (m[1] !== undefined) parts.push(<code key={m.index}>{m[1]}</code>);
    else
      parts.push(
        <a key={m.index} class="mono" href={href(`/jobs/${encodeURIComponent(m[2]!)}`)} data-testid="waiting-job-link">
          {m[2]}
        </a>,
      );
    last = m.index + m[0].length;
  }
  if (last < text.length) parts.push(text.slice(last));
  return <>{parts}</>;
}

interface Dependency {
  id: string;
  name: string | null;
  status: JobStatus | null;
}

/** The jobs it runs after, each with its name and state (read again when this job changes). */
function useDependencies(job: Job): Dependency[] {
  const [deps, setDeps] = useState<Dependency[]>([]);
  const key = `${job.after.join(',')}|${job.status}|${job.waiting ?? ''}`;
  useEffect(() => {
    const controller = new AbortController();
    void Promise.all(
      job.after.map((id) =>
        api<Job>(`jobs/${encodeURIComponent(id)}`, { signal: controller.signal }).then(
          (j): Dependency => ({ id, name: j.name, status: j.status }),
          (): Dependency => ({ id, name: null, status: null }),
        ),
      ),
    ).then((list) => {
      if (!controller.signal.aborted) setDeps(list);
    });
    return () => controller.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [job.id, key]);
  return deps;
}

export function JobScheduling({ job, onJob, reload }: { job: Job; onJob: (job: Job) => void; reload: () => void }) {
  const waiting = WAITING_STATES.includes(job.status);
  useEffect(() => {
    if (!waiting) return;
    const timer = setInterval(reload, WAITING_REFRESH_MS);
    return () => clearInterval(timer);
  }, [waiting, reload]);
  const deps = useDependencies(job);
  const req = job.requirements;
  const labels = Object.entries(req?.labels ?? {});
  const blocked = job.blockedAgents ?? [];

  return (
    <section class="panel scheduling" aria-label="Scheduling" data-testid="job-scheduling">
      {job.waiting && (
        <div class="sched-row" data-testid="job-waiting-reason" role="status">
          <span class="sched-label">Waiting</span>
          <span class="warn-text">
            <WaitingText text={job.waiting} />
          </span>
        </div>
      )}
      <div class="sched-row">
        <span class="sched-label">Priority</span>
        <PriorityControl job={job} onJob={onJob} />
      </div>
      {job.after.length > 0 && (
        <div class="sched-row" data-testid="job-after">
          <span class="sched-label">Runs after</span>
          <span class="sched-list">
            {(deps.length === job.after.length ? deps : job.after.map((id) => ({ id, name: null, status: null }))).map((d) => (
              <a key={d.id} class="dep" href={href(`/jobs/${encodeURIComponent(d.id)}`)} data-testid="after-link" data-job-id={d.id} data-status={d.status ?? ''}>
                {d.name ?? <span class="mono">{d.id}</span>}
                {d.status && <StatusBadge status={d.status} />}
              </a>
            ))}
            <span class="muted">{job.afterAny ? 'whatever way they end' : 'once they are done (canceled if one fails)'}</span>
          </span>
        </div>
      )}
      {req && (req.memoryMiB || req.gpus || labels.length > 0) ? (
        <div class="sched-row" data-testid="job-requirements">
          <span class="sched-label">Needs</span>
          <span class="sched-list">
            {req.memoryMiB ? <span class="label">{req.memoryMiB.toLocaleString('en-US')} MiB memory</span> : null}
            {req.gpus ? <span class="label">{req.gpus} GPU{req.gpus === 1 ? '' : 's'}</span> : null}
            {labels.map(([k, v]) => (
              <span key={k} class="label">
                {k}={v}
              </span>
            ))}
          </span>
        </div>
      ) : null}
      {blocked.length > 0 && (
        <div class="sched-row" data-testid="job-blocked-agents">
          <span class="sched-label">Given up on</span>
          <span class="sched-list">
            {blocked.map((name) => (
              <a key={name} class="label" href={href(`/workers/${encodeURIComponent(name)}`)} title="Too many of its tasks failed on this agent: it gets no more of them">
                {name}
              </a>
            ))}
          </span>
        </div>
      )}
    </section>
  );
}

/** The priority, and while the job has not ended a box to change it. */
function PriorityControl({ job, onJob }: { job: Job; onJob: (job: Job) => void }) {
  const open = job.status === 'created' || job.status === 'queued' || job.status === 'running';
  const [value, setValue] = useState(String(job.priority));
  const [saving, setSaving] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);
  // A change from elsewhere (the CLI, another tab) shows, unless one is being typed.
  const [typed, setTyped] = useState(false);
  useEffect(() => {
    if (!typed) setValue(String(job.priority));
  }, [job.priority, typed]);

  if (!open) {
    return (
      <span class="stat-value-inline" data-testid="job-priority">
        {job.priority}
      </span>
    );
  }
  const save = async (e: Event) => {
    e.preventDefault();
    const priority = Number(value);
    if (!value.trim() || !Number.isInteger(priority) || priority < 0 || priority > 100) return setProblem('A whole number from 0 to 100.');
    setSaving(true);
    try {
      onJob(await api<Job>(`jobs/${encodeURIComponent(job.id)}`, { method: 'PATCH', body: { priority } }));
      setProblem(null);
      setTyped(false);
    } catch (err) {
      setProblem(messageOf(err));
    } finally {
      setSaving(false);
    }
  };
  return (
    <form class="priority-form" onSubmit={save} noValidate data-testid="priority-form">
      <span class="visually-hidden" data-testid="job-priority">
        {job.priority}
      </span>
      <input
        type="number"
        min={0}
        max={100}
        aria-label="Priority (0–100, higher runs first)"
        value={value}
        disabled={saving}
        onInput={(e) => {
          setValue(e.currentTarget.value);
          setTyped(true);
          setProblem(null);
        }}
        data-testid="job-priority-input"
      />
      <button type="submit" class="btn btn-small" disabled={saving || !typed || Number(value) === job.priority} data-testid="job-priority-save">
        Set
      </button>
      <span class="muted">0–100, higher runs first</span>
      {problem && (
        <span class="err-text" role="alert" data-testid="job-priority-error">
          {problem}
        </span>
      )}
    </form>
  );
}
