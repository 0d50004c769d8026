// The audit log (#/audit, admins): who did what to what, and when, newest first; filtered by user,
// action and start date (kept in the address, so a filtered view can be shared).
import { useEffect, useState } from 'preact/hooks';
import { api, messageOf, type AuditEntry } from '../api.ts';
import { ErrorBanner, PageHeader } from '../components.tsx';
import { dateTime, fullDateTime } from '../format.ts';
import { useDocumentTitle } from '../hooks.ts';
import { href, navigate } from '../router.ts';


const ACTIONS = ['job.create', 'job.start', 'job.stop', 'job.retry', 'job.set', 'job.archive', 'job.unarchive', 'job.delete', 'worker.pause', 'worker.resume', 'worker.remove', 'worker.label', 'user.create', 'user.remove', 'user.role', 'user.quota', 'user.password', 'password.change', 'token.create', 'token.revoke', 'webhook.add', 'webhook.remove', 'image.add', 'image.remove'];

function detailsText(details: Record<string, unknown>): string {
  return Object.entries(details)
    .map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(', ');
}

export function Audit({ params }: { params: URLSearchParams }) {
  const user = params.get('user') ?? '';
  const action = params.get('action') ?? '';
  const since = params.get('since') ?? '';
  const [entries, setEntries] = useState<AuditEntry[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [userField, setUserField] = useState(user);
  useDocumentTitle('Audit log');

  useEffect(() => {
    const q = new URLSearchParams({ limit: '500' });
    if (user) q.set('user', user);
    if (action) q.set('action', action);
    if (since) q.set('since', since);
    setEntries(null);
    api<{ entries: AuditEntry[] }>(`audit?${q}`)
      .then((a) => {
        setEntries(a.entries);
        setError(null);
      })
      .catch((e) => setError(messageOf(e)));
  }, [user, action, since]);

  const go = (change: Record<string, string>) => navigate(href('/audit', { user, action, since, ...change }), true);

  return (
    <div class="page" data-testid="audit-page">
      <PageHeader title="Audit log" sub="People's actions on jobs, users, tokens, webhooks and images, newest first" />
      <form
        class="panel form form-inline"
        aria-label="Filter the audit log"
        onSubmit={(e) => {
          e.preventDefault();
          go({ user: userField.trim() });
        }}
      >
        <label class="field">
          <span>User</span>
          <input name="audit-user" autocomplete="off" value={userField} onInput={(e) => setUserField(e.currentTarget.value)} onBlur={() => userField.trim() !== user && go({ user: userField.trim() })} />
        </label>
        <label class="field">
          <span>Action</span>
          <select name="audit-action" value={action} onChange={(e) => go({ action: e.currentTarget.value })}>
            <option value="">All actions</option>
            {ACTIONS.map((a) => (
              <option key={a} value={a}>
                {a}
              </option>
            ))}
          </select>
        </label>
        <label class="field">
          <span>Since</span>
          <input name="audit-since" type="date" value={since} onChange={(e) => go({ since: e.currentTarget.value })} />
        </label>
        <button type="submit" class="btn">
          Filter
        </button>
      </form>
      <ErrorBanner error={error} onDismiss={() => setError(null)} />
      <div class="table-wrap">
        <table class="table" data-testid="audit-table">
          <thead>
            <tr>
              <th>When</th>
              <th>User</th>
              <th>Action</th>
              <th>Target</th>
              <th class="hide-xs">Details</th>
            </tr>
          </thead>
          <tbody>
            {entries?.map((e, i) => (
              <tr key={`${e.time}-${i}`} data-testid="audit-row" data-action={e.action} data-user={e.user}>
                <td title={fullDateTime(e.time)}>{dateTime(e.time)}</td>
                <td>{e.user}</td>
                <td>{e.action}</td>
                <td class="mono">{e.action.startsWith('job.') ? <a href={href(`/jobs/${e.target}`)}>{e.target}</a> : e.target}</td>
                <td class="hide-xs">{detailsText(e.details)}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {entries && entries.length === 0 && <div class="loading-row">No entries.</div>}
        {!entries && !error && <div class="loading-row">Loading…</div>}
      </div>
    </div>
  );
}
