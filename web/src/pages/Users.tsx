import { useState } from 'preact/hooks';
import { api, isAbort, messageOf, type User } from '../api.ts';
import { ErrorBanner, PageHeader } from '../components.tsx';
import { dateTime, fullDateTime } from '../format.ts';
import { useDocumentTitle, usePoll } from '../hooks.ts';
import { PasswordReset } from './PasswordReset.tsx';
import { TokenList } from './TokenList.tsx';
import { QuotaForm } from './QuotaForm.tsx';
import { hours } from './Usage.tsx';

export function Users({ me }: { me: User }) {
  const [users, setUsers] = useState<User[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [admin, setAdmin] = useState(false);
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);
  const [tokensOf, setTokensOf] = useState<string | null>(null);
  const [passwordOf, setPasswordOf] = useState<string | null>(null);
  const [limitsOf, setLimitsOf] = useState<string | null>(null);
  useDocumentTitle('Users');

  const load = async (signal?: AbortSignal) => {
    try {
      const answer = await api<{ users: User[] }>('users', { signal });
      setUsers(answer.users);
    } catch (e) {
      if (!isAbort(e)) setError(messageOf(e));
    }
  };
  usePoll(load, 10000, []);

  if (!me.admin) {
    return (
      <div class="page">
        <div class="panel" data-testid="forbidden">
          <h1>Users</h1>
          <p class="muted">Only administrators manage users.</p>
        </div>
      </div>
    );
  }

  const add = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    setNotice(null);
    try {
      const user = await api<User>('users', { body: { name: name.trim(), password, admin } });
      setNotice(`Added ${user.name}${user.admin ? ' (admin)' : ''}.`);
      setName('');
      setPassword('');
      setAdmin(false);
      await load();
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setBusy(false);
    }
  };

  const setRole = async (user: User, makeAdmin: boolean) => {
    setError(null);
    setNotice(null);
    try {
      await api(`users/${encodeURIComponent(user.name)}`, { method: 'PATCH', body: { admin: makeAdmin } });
      setNotice(`${user.name} is now ${makeAdmin ? 'an admin' : 'a user'}.`);
      await load();
    } catch (e) {
      setError(messageOf(e));
    }
  };

  const remove = async (user: User) => {
    if (!confirm(`Remove user ${user.name}? Their tokens stop working.`)) return;
    setError(null);
    setNotice(null);
    try {
      await api(`users/${encodeURIComponent(user.name)}`, { method: 'DELETE' });
      setNotice(`Removed ${user.name}.`);
      await load();
    } catch (e) {
      setError(messageOf(e));
    }
  };

  return (
    <div class="page page-narrow" data-testid="users-page">
      <PageHeader title="Users" sub={users ? `${users.length} ${users.length === 1 ? 'account' : 'accounts'}` : undefined} />
      <ErrorBanner error={error} onDismiss={() => setError(null)} />
      {notice && (
        <div class="banner banner-ok" role="status">
          {notice}
        </div>
      )}
      <form class="panel form form-inline" onSubmit={add} data-testid="add-user-form" aria-label="Add a user">
        <label class="field">
          <span>Username</span>
          <input name="name" required autocomplete="off" value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        <label class="field">
          <span>Password</span>
          <input name="password" type="password" required autocomplete="new-password" value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
        </label>
        <label class="check">
          <input type="checkbox" name="admin" checked={admin} onChange={(e) => setAdmin(e.currentTarget.checked)} />
          <span>Administrator</span>
        </label>
        <button type="submit" class="btn btn-primary" disabled={busy || !name.trim() || !password} data-testid="add-user">
          Add user
        </button>
      </form>
      <div class="table-wrap">
        <table class="table" data-testid="user-table">
          <thead>
            <tr>
              <th>Name</th>
              <th>Role</th>
              <th class="num" title="Cores their running tasks hold, against the cap an admin set (drover user set NAME --max-cores N)">Cores</th>
              <th class="num" title="Core-hours used this calendar month (UTC), against the monthly budget (drover user set NAME --monthly-core-hours N)">This month</th>
              <th class="hide-xs">Created</th>
              <th class="num">
                <span class="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {users?.map((u) => [
              <tr key={u.id} data-testid="user-row" data-user={u.name}>
                <td>
                  <strong>{u.name}</strong>
                  {u.name === me.name && <span class="muted"> (you)</span>}
                </td>
                <td>{u.admin ? <span class="badge badge-admin">admin</span> : <span class="muted">user</span>}</td>
                <td class="num" data-testid={`cores-of-${u.name}`}>
                  {u.quota ? (u.quota.maxCores === null ? u.quota.runningCores : `${u.quota.runningCores} of ${u.quota.maxCores}`) : ''}
                </td>
                <td class="num" data-testid={`month-of-${u.name}`} title={u.quota?.monthlyCoreHours != null ? `once spent: ${u.quota.overBudget === 'stop' ? 'running tasks are stopped' : 'no new task starts'}` : undefined}>
                  {u.quota ? (u.quota.monthlyCoreHours === null ? `${hours(u.quota.monthCoreSeconds)} h` : `${hours(u.quota.monthCoreSeconds)} of ${u.quota.monthlyCoreHours} h`) : ''}
                  {u.quota?.budgetSpent && <span class="badge"> spent, {u.quota.overBudget}</span>}
                </td>
                <td class="hide-xs" title={fullDateTime(u.createdAt)}>
                  {dateTime(u.createdAt)}
                </td>
                <td class="num">
                  <div class="user-actions">
                  <button type="button" class="btn btn-small" onClick={() => setTokensOf(tokensOf === u.name ? null : u.name)} aria-expanded={tokensOf === u.name} data-testid={`tokens-of-${u.name}`}>
                    Sign-ins
                  </button>
                  {u.quota && (
                    <button type="button" class="btn btn-small" onClick={() => setLimitsOf(limitsOf === u.name ? null : u.name)} aria-expanded={limitsOf === u.name} data-testid={`limits-of-${u.name}`}>
                      Limits
                    </button>
                  )}
                  {u.name !== me.name && (
                    <>
                      <button type="button" class="btn btn-small" onClick={() => setPasswordOf(passwordOf === u.name ? null : u.name)} aria-expanded={passwordOf === u.name} data-testid={`password-of-${u.name}`}>
                        Reset password
                      </button>
                      <button type="button" class="btn btn-small" onClick={() => setRole(u, !u.admin)} data-testid={`role-${u.name}`}>
                        {u.admin ? 'Make user' : 'Make admin'}
                      </button>
                      <button type="button" class="btn btn-small btn-danger-ghost" onClick={() => remove(u)} data-testid={`remove-user-${u.name}`}>
                        Remove
                      </button>
                    </>
                  )}
                  </div>
                </td>
              </tr>,
              limitsOf === u.name && u.quota && (
                <tr key={`${u.id}-limits`} class="tokens-row">
                  <td colSpan={6}>
                    <QuotaForm
                      user={u.name}
                      quota={u.quota}
                      onSaved={() => {
                        setLimitsOf(null);
                        setNotice(`Limits of ${u.name} saved.`);
                        void load();
                      }}
                    />
                  </td>
                </tr>
              ),
              passwordOf === u.name && (
                <tr key={`${u.id}-password`} class="tokens-row">
                  <td colSpan={6}>
                    <PasswordReset user={u.name} onClose={() => setPasswordOf(null)} />
                  </td>
                </tr>
              ),
              tokensOf === u.name && (
                <tr key={`${u.id}-tokens`} class="tokens-row">
                  <td colSpan={6}>
                    <TokenList user={u.name} />
                  </td>
                </tr>
              ),
            ])}
          </tbody>
        </table>
        {!users && !error && <div class="loading-row">Loading…</div>}
      </div>
    </div>
  );
}
