// The signed-in user's own account (#/account): change the password, see and end one's sign-ins,
// named API tokens for scripts, and webhooks told when one's jobs end.
import { useState } from 'preact/hooks';
import { api, messageOf, type User } from '../api.ts';
import { ErrorBanner, PageHeader } from '../components.tsx';
import { useDocumentTitle } from '../hooks.ts';
import { TokenList } from './TokenList.tsx';
import { ApiTokens } from './ApiTokens.tsx';
import { Webhooks } from './Webhooks.tsx';

export function Account({ me }: { me: User }) {
  const [current, setCurrent] = useState('');
  const [password, setPassword] = useState('');
  const [repeat, setRepeat] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [tokensShown, setTokensShown] = useState(0); // bumped to reload the list after a change
  useDocumentTitle('Account');

  const change = async (event: Event) => {
    event.preventDefault();
    setNotice(null);
    if (password !== repeat) return setError('The new password and its repetition differ.');
    if (password.length < 4) return setError('A password has at least 4 characters.');
    setBusy(true);
    try {
      await api('auth/password', { body: { current, password } });
      setError(null);
      setNotice('Password changed. Your other sign-ins (other browsers, the CLI) have ended; API tokens stay.');
      setCurrent('');
      setPassword('');
      setRepeat('');
      setTokensShown((n) => n + 1);
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="page page-narrow" data-testid="account-page">
      <PageHeader title="Account" sub={`${me.name} · ${me.admin ? 'administrator' : 'user'}`} />
      <form class="panel form" onSubmit={change} onInput={() => setError(null)} data-testid="password-form" aria-label="Change your password" noValidate>
        <h2>Change your password</h2>
        <ErrorBanner error={error} onDismiss={() => setError(null)} scrollIntoView />
        {notice && (
          <div class="banner banner-ok" role="status" data-testid="password-changed">
            {notice}
          </div>
        )}
        <label class="field">
          <span>Current password</span>
          <input type="password" name="current" autocomplete="current-password" value={current} onInput={(e) => setCurrent(e.currentTarget.value)} />
        </label>
        <div class="grid-2">
          <label class="field">
            <span>New password</span>
            <input type="password" name="password" autocomplete="new-password" value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
          </label>
          <label class="field">
            <span>New password again</span>
            <input type="password" name="repeat" autocomplete="new-password" value={repeat} onInput={(e) => setRepeat(e.currentTarget.value)} />
          </label>
        </div>
        <div class="form-actions">
          <button type="submit" class="btn btn-primary" disabled={busy || !current || !password} data-testid="change-password">
            Change password
          </button>
        </div>
      </form>
      <section class="panel" aria-label="Your sign-ins">
        <h2>Your sign-ins</h2>
        <p class="muted">Each browser sign-in and each <code>drover login</code> holds a token. Revoke one you no longer use.</p>
        <TokenList key={tokensShown} user={me.name} />
      </section>
      <ApiTokens />
      <Webhooks />
    </div>
  );
}
