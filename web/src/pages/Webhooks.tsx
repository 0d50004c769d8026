// One's webhooks (Account page): add one (its signing secret shown once), remove, read deliveries.
import { useEffect, useState } from 'preact/hooks';
import { api, messageOf, type Delivery, type Webhook } from '../api.ts';
import { ErrorBanner } from '../components.tsx';
import { dateTime, fullDateTime } from '../format.ts';
import { href } from '../router.ts';
import { useOwnedList } from './useOwnedList.ts';

// The wire's WEBHOOK_EVENTS, written here as a value: importing it would bring TypeBox into the bundle.
const EVENTS = ['job.done', 'job.error', 'job.canceled'] as const;

export function Webhooks() {
  const { items: hooks, created, error, setError, busy, create, remove: removeHook } = useOwnedList<Webhook, { id: string; secret: string }>('webhooks', 'webhooks');
  const [url, setUrl] = useState('');
  const [events, setEvents] = useState<Set<string>>(new Set(EVENTS));
  const [open, setOpen] = useState<string | null>(null);

  const add = (event: Event) =>
    create(
      event,
      async () => {
        const answer = await api<Webhook & { secret: string }>('webhooks', { body: { url: url.trim(), events: EVENTS.filter((e) => events.has(e)) } });
        return { id: answer.id, secret: answer.secret };
      },
      () => setUrl(''),
    );

  const remove = (hook: Webhook) => removeHook(hook.id, `Remove the webhook to ${hook.url}?`, (shown) => shown.id === hook.id);

  const toggle = (name: string, on: boolean) => {
    const next = new Set(events);
    if (on) next.add(name);
    else next.delete(name);
    setEvents(next);
  };

  return (
    <section class="panel" aria-label="Webhooks" data-testid="webhooks">
      <h2>Webhooks</h2>
      <p class="muted">
        When one of your jobs ends, Drover POSTs the event and the job as JSON to each URL, signed in <code>X-Drover-Signature: sha256=…</code> (HMAC-SHA256 of the body with the webhook's secret), and retries for a day until it gets a 2xx answer.
      </p>
      <ErrorBanner error={error} onDismiss={() => setError(null)} />
      {created && (
        <div class="banner banner-ok" role="status" data-testid="new-webhook">
          <div>Webhook added. Its signing secret, shown this once:</div>
          <code class="secret" data-testid="new-webhook-secret">
            {created.secret}
          </code>
        </div>
      )}
      <form class="form form-inline" onSubmit={add} aria-label="Add a webhook">
        <label class="field">
          <span>URL</span>
          <input name="webhook-url" type="url" autocomplete="off" placeholder="https://hooks.example.com/drover" value={url} onInput={(e) => setUrl(e.currentTarget.value)} />
        </label>
        {EVENTS.map((e) => (
          <label class="check" key={e}>
            <input type="checkbox" name={`event-${e}`} checked={events.has(e)} onChange={(ev) => toggle(e, ev.currentTarget.checked)} />
            <span>{e}</span>
          </label>
        ))}
        <button type="submit" class="btn btn-primary" disabled={busy || !url.trim() || events.size === 0} data-testid="add-webhook">
          Add webhook
        </button>
      </form>
      {hooks && hooks.length === 0 && <p class="muted">No webhooks.</p>}
      {hooks && hooks.length > 0 && (
        <ul class="webhook-list">
          {hooks.map((h) => (
            <li key={h.id} data-testid="webhook" data-webhook-id={h.id}>
              <div class="webhook-line">
                <span class="mono">{h.url}</span>
                <span class="muted">{h.events.join(', ')}</span>
                <button type="button" class="btn btn-small" onClick={() => setOpen(open === h.id ? null : h.id)} aria-expanded={open === h.id} data-testid="show-deliveries">
                  Deliveries
                </button>
                <button type="button" class="btn btn-small btn-danger-ghost" onClick={() => remove(h)} data-testid="remove-webhook">
                  Remove
                </button>
              </div>
              {open === h.id && <Deliveries webhookId={h.id} />}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

function Deliveries({ webhookId }: { webhookId: string }) {
  const [deliveries, setDeliveries] = useState<Delivery[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    api<{ deliveries: Delivery[] }>(`webhooks/${encodeURIComponent(webhookId)}/deliveries`)
      .then((d) => setDeliveries(d.deliveries))
      .catch((e) => setError(messageOf(e)));
  }, [webhookId]);
  if (error) return <ErrorBanner error={error} />;
  if (!deliveries) return <p class="muted">Loading…</p>;
  if (deliveries.length === 0) return <p class="muted">No deliveries yet: one is made when a job of yours ends.</p>;
  return (
    <div class="table-wrap">
      <table class="table" data-testid="deliveries">
        <thead>
          <tr>
            <th>When</th>
            <th>Event</th>
            <th>Job</th>
            <th>Status</th>
            <th class="num">Tries</th>
            <th>Last answer</th>
          </tr>
        </thead>
        <tbody>
          {deliveries.map((d) => (
            <tr key={d.id} data-testid="delivery" data-status={d.status}>
              <td title={fullDateTime(d.createdAt)}>{dateTime(d.createdAt)}</td>
              <td>{d.event}</td>
              <td>
                <a href={href(`/jobs/${d.jobId}`)} class="mono">
                  {d.jobId}
                </a>
              </td>
              <td>{d.status === 'pending' && d.nextAttemptAt ? `pending, next try ${dateTime(d.nextAttemptAt)}` : d.status}</td>
              <td class="num">{d.attempts}</td>
              <td>{d.lastError ?? (d.lastStatus !== null ? String(d.lastStatus) : '–')}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
