// What an admin does to an agent from its page: pause and resume it, set or remove its labels, and
// remove it from the list once it is offline (POST /workers/:id/pause|resume|labels, DELETE /workers/:id).
import { useState } from 'preact/hooks';
import { api, messageOf, type Worker } from '../api.ts';
import { ErrorBanner } from '../components.tsx';
import { navigate } from '../router.ts';
import { parseRequirement } from '../../../src/core/job-requirements.ts';

type AdminWorker = Pick<Worker, 'id' | 'name' | 'status' | 'paused' | 'labels'>;

/** Pauses or resumes an agent (admins). */
function setPaused(worker: Pick<Worker, 'id'>, paused: boolean): Promise<unknown> {
  return api(`workers/${encodeURIComponent(worker.id)}/${paused ? 'pause' : 'resume'}`, { method: 'POST' });
}

/** The Workers list's button for an admin: pause a working agent, resume a paused one. */
export function PauseButton({ worker, onChanged, onError }: { worker: Pick<Worker, 'id' | 'name' | 'paused'>; onChanged: () => void; onError: (message: string) => void }) {
  const [busy, setBusy] = useState(false);
  const click = async () => {
    setBusy(true);
    try {
      await setPaused(worker, !worker.paused);
      onChanged();
    } catch (e) {
      onError(`${worker.name}: ${messageOf(e)}`);
    } finally {
      setBusy(false);
    }
  };
  return (
    <button type="button" class="btn btn-small" disabled={busy} onClick={() => void click()} data-testid={worker.paused ? 'worker-row-resume' : 'worker-row-pause'} title={worker.paused ? 'Let it take tasks again' : 'It finishes its running tasks and takes no new ones until resumed'}>
      {worker.paused ? 'Resume' : 'Pause'}
    </button>
  );
}

/** Labels typed as `key=value key=value`, or what is wrong with them. */
function parseLabels(text: string): Record<string, string> | string {
  const labels: Record<string, string> = {};
  for (const item of text.split(/[\s,]+/).filter(Boolean)) {
    const parsed = parseRequirement(item);
    if ('problem' in parsed) return `"${item}" is not key=value (a name of letters, digits, _ . - / and a value of 1 to 200 characters).`;
    labels[parsed.key] = parsed.value;
  }
  return Object.keys(labels).length > 0 ? labels : 'Type one or more labels as key=value.';
}

export function WorkerAdmin({ worker, onChanged }: { worker: AdminWorker; onChanged: () => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [labelText, setLabelText] = useState('');
  const path = `workers/${encodeURIComponent(worker.id)}`;
  const labels = worker.labels && !Array.isArray(worker.labels) ? Object.entries(worker.labels) : [];

  const run = async (request: () => Promise<unknown>, after?: () => void) => {
    setBusy(true);
    setError(null);
    try {
      await request();
      after?.();
      onChanged();
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setBusy(false);
    }
  };
  const setLabels = (body: Record<string, string>, after?: () => void) => run(() => api(`${path}/labels`, { body: { labels: body } }), after);
  const addLabels = (e: Event) => {
    e.preventDefault();
    const parsed = parseLabels(labelText);
    if (typeof parsed === 'string') return setError(parsed);
    void setLabels(parsed, () => setLabelText(''));
  };
  const remove = () => {
    if (!confirm(`Remove ${worker.name} from the list? It comes back if it is heard from again.`)) return;
    void run(() => api(path, { method: 'DELETE' }), () => navigate('/workers'));
  };

  return (
    <section class="panel worker-admin" aria-label="Manage agent" data-testid="worker-admin">
      <ErrorBanner error={error} onDismiss={() => setError(null)} />
      <div class="worker-admin-actions">
        {worker.paused ? (
          <button type="button" class="btn btn-primary" disabled={busy} onClick={() => void run(() => setPaused(worker, false))} data-testid="worker-resume">
            ▶ Resume
          </button>
        ) : (
          <button type="button" class="btn" disabled={busy} onClick={() => void run(() => setPaused(worker, true))} data-testid="worker-pause" title="It finishes its running tasks and takes no new ones until resumed">
            ❚❚ Pause
          </button>
        )}
        <button
          type="button"
          class="btn btn-danger"
          disabled={busy || worker.status !== 'offline'}
          onClick={remove}
          data-testid="worker-remove"
          title={worker.status === 'offline' ? 'Remove this offline agent from the list' : `Only an offline agent can be removed: this one is ${worker.status} (stop it first, or pause it)`}
        >
          Remove
        </button>
        <span class="muted">{worker.paused ? 'Paused: it finishes its running tasks and takes no new ones.' : worker.status === 'offline' ? 'Offline.' : 'Only an offline agent can be removed.'}</span>
      </div>
      <div class="worker-admin-labels">
        <span class="field-title">Labels</span>
        <span class="labels" data-testid="worker-labels">
          {labels.length === 0 && <span class="muted">none</span>}
          {labels.map(([k, v]) => (
            <span key={k} class="label label-removable" data-testid="worker-label">
              {k}={v}
              <button type="button" class="btn-icon" aria-label={`Remove label ${k}`} disabled={busy} onClick={() => void setLabels({ [k]: '' })} data-testid="worker-label-remove">
                ×
              </button>
            </span>
          ))}
        </span>
        <form class="label-form" onSubmit={addLabels} noValidate>
          <input aria-label="Labels to set, as key=value" placeholder="key=value, e.g. tier=gpu" value={labelText} disabled={busy} onInput={(e) => setLabelText(e.currentTarget.value)} data-testid="worker-label-input" />
          <button type="submit" class="btn btn-small" disabled={busy || !labelText.trim()} data-testid="worker-label-save">
            Set
          </button>
        </form>
        <span class="hint">Kept over the agent's own --label; jobs requiring a label see the change at once.</span>
      </div>
    </section>
  );
}
