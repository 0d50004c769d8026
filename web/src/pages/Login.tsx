import { useState } from 'preact/hooks';
import { api, messageOf, type User } from '../api.ts';
import { useDocumentTitle } from '../hooks.ts';

export function Login({ onSignedIn, initialError }: { onSignedIn: (user: User) => void; initialError?: string }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(initialError ?? null);
  const [busy, setBusy] = useState(false);
  useDocumentTitle('Sign in');

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const answer = await api<{ token: string; user: User }>('auth/login', {
        body: { username: username.trim(), password },
        quiet401: true,
      });
      onSignedIn(answer.user);
    } catch (e) {
      setError(messageOf(e));
      setBusy(false);
    }
  };

  return (
    <div class="login-screen">
      <form class="login-card" onSubmit={submit} data-testid="login-form" aria-labelledby="login-title">
        <div class="login-brand">
          <span class="brand-mark" aria-hidden="true">
            D
          </span>
          <div>
            <h1 id="login-title">Drover</h1>
            <p class="muted">Sign in to the render farm</p>
          </div>
        </div>
        {error && (
          <div class="banner banner-error" role="alert" data-testid="error">
            {error}
          </div>
        )}
        <label class="field">
          <span>Username</span>
          <input
            name="username"
            autocomplete="username"
            autoFocus
            required
            value={username}
            onInput={(e) => setUsername(e.currentTarget.value)}
          />
        </label>
        <label class="field">
          <span>Password</span>
          <input
            name="password"
            type="password"
            autocomplete="current-password"
            required
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
        </label>
        <button type="submit" class="btn btn-primary btn-block" disabled={busy} data-testid="sign-in">
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </div>
  );
}
