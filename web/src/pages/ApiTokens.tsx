// One's named API tokens (Account page): create one for a script or CI (shown once), list, revoke.
import { useState } from 'preact/hooks';
import { api, type ApiToken, type CreatedApiToken } from '../api.ts';
import { ErrorBanner } from '../components.tsx';
import { dateTime, fullDateTime } from '../format.ts';
import { useOwnedList } from './useOwnedList.ts';


const LIFETIMES: [label: string, seconds: number | null][] = [
  ['30 days', 30 * 86400],
  ['7 days', 7 * 86400],
  ['90 days', 90 * 86400],
  ['1 year', 365 * 86400],
  ['Never (until revoked)', null],
];

export function ApiTokens() {
  const { items: tokens, created, error, setError, busy, create, remove } = useOwnedList<ApiToken, { name: string; token: string }>('tokens', 'tokens');
  const [name, setName] = useState('');
  const [lifetime, setLifetime] = useState(0);

  const submit = (event: Event) =>
    create(
      event,
      async () => {
        const seconds = LIFETIMES[lifetime]![1];
        const answer = await api<CreatedApiToken>('tokens', { body: { name: name.trim(), ...(seconds !== null ? { expiresInSeconds: seconds } : {}) } });
        return { name: answer.name, token: answer.token };
      },
      () => setName(''),
    );

  const revoke = (token: ApiToken) => remove(token.id, `Revoke the token ${token.name}? Scripts using it stop working at once.`, (shown) => shown.name === token.name);

  return (
    <section class="panel" aria-label="API tokens" data-testid="api-tokens">
      <h2>API tokens</h2>
      <p class="muted">
        For scripts and CI: use one as <code>DROVER_TOKEN</code>, with <code>drover login --token</code>, or as <code>Authorization: Bearer …</code>. Each token is shown once; only its digest is kept.
      </p>
      <ErrorBanner error={error} onDismiss={() => setError(null)} />
      {created && (
        <div class="banner banner-ok" role="status" data-testid="new-token">
          <div>
            Token <strong>{created.name}</strong> created. Copy it now: it is not shown again.
          </div>
          <code class="secret" data-testid="new-token-value">
            {created.token}
          </code>
        </div>
      )}
      <form class="form form-inline" onSubmit={submit} aria-label="Create an API token">
        <label class="field">
          <span>Token name</span>
          <input name="token-name" autocomplete="off" placeholder="e.g. ci" value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        <label class="field">
          <span>Expires after</span>
          <select name="token-lifetime" value={String(lifetime)} onChange={(e) => setLifetime(Number(e.currentTarget.value))}>
            {LIFETIMES.map(([label], i) => (
              <option key={label} value={String(i)}>
                {label}
              </option>
            ))}
          </select>
        </label>
        <button type="submit" class="btn btn-primary" disabled={busy || !name.trim()} data-testid="create-token">
          Create token
        </button>
      </form>
      <div class="token-list">
        {tokens && tokens.length === 0 && <p class="muted">No API tokens.</p>}
        {tokens && tokens.length > 0 && (
          <ul>
            {tokens.map((t) => (
              <li key={t.id} data-testid="api-token" data-token-name={t.name}>
                <strong>{t.name}</strong>
                <span class="mono muted">{t.id}</span>
                <span class="muted" title={fullDateTime(t.createdAt)}>
                  created {dateTime(t.createdAt)}, {t.expiresAt ? `until ${dateTime(t.expiresAt)}` : 'until revoked'}
                </span>
                <button type="button" class="btn btn-small btn-danger-ghost" onClick={() => revoke(t)} data-testid="revoke-api-token">
                  Revoke
                </button>
              </li>
            ))}
          </ul>
        )}
      </div>
    </section>
  );
}
