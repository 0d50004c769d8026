// A user's live tokens (web sign-ins and CLI logins), each revocable: on the Account page for
// oneself, on the Users page for an admin.
import { useEffect, useState } from 'preact/hooks';
import { api, messageOf, type UserTokenList } from '../api.ts';
import { ErrorBanner } from '../components.tsx';
import { dateTime, fullDateTime } from '../format.ts';

/** Named API tokens have a name; sign-ins none. */
type Token = UserTokenList['tokens'][number];

export function TokenList({ user }: { user: string }) {
  const [tokens, setTokens] = useState<Token[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const path = `users/${encodeURIComponent(user)}/tokens`;
  const load = async () => {
    try {
      setTokens((await api<UserTokenList>(path)).tokens);
      setError(null);
    } catch (e) {
      setError(messageOf(e));
    }
  };
  useEffect(() => {
    void load();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [user]);
  const revoke = async (token: Token) => {
    try {
      await api(`${path}/${encodeURIComponent(token.id)}`, { method: 'DELETE' });
      await load();
    } catch (e) {
      setError(messageOf(e));
    }
  };
  return (
    <div class="token-list" data-testid={`tokens-${user}`}>
      <ErrorBanner error={error} onDismiss={() => setError(null)} />
      {tokens && tokens.length === 0 && <p class="muted">No live sign-in.</p>}
      {tokens && tokens.length > 0 && (
        <ul>
          {tokens.map((t) => (
            <li key={t.id} data-testid="token" data-token-id={t.id}>
              <span class="mono">{t.id}</span>
              {t.name && <span class="badge">API token {t.name}</span>}
              <span class="muted" title={fullDateTime(t.createdAt)}>
                since {dateTime(t.createdAt)}
                {t.expiresAt ? `, until ${dateTime(t.expiresAt)}` : ''}
              </span>
              {t.current ? (
                <span class="muted">this browser</span>
              ) : (
                <button type="button" class="btn btn-small btn-danger-ghost" onClick={() => revoke(t)} data-testid="revoke-token">
                  Revoke
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
