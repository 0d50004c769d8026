// An admin sets a new password for another user (PATCH /users/:name): a generated one is offered
// and may be replaced by one of the admin's choosing; once set, it is shown this once so it can be
// handed over (the coordinator keeps only its hash), and the user's sign-ins have ended.
import { useState } from 'preact/hooks';
import { api, messageOf } from '../api.ts';
import { ErrorBanner } from '../components.tsx';

/** Letters and digits that cannot be mistaken for one another when read out or copied by hand. */
const ALPHABET = 'abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789';

/** A random password of `length` characters from ALPHABET, without modulo bias. */
export function generatePassword(length = 16): string {
  const limit = 256 - (256 % ALPHABET.length);
  let out = '';
  while (out.length < length) {
    for (const byte of crypto.getRandomValues(new Uint8Array(length * 2))) {
      if (byte < limit && out.length < length) out += ALPHABET[byte % ALPHABET.length];
    }
  }
  return out;
}

export function PasswordReset({ user, onClose }: { user: string; onClose: () => void }) {
  const [password, setPassword] = useState(generatePassword);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [shown, setShown] = useState<string | null>(null);
  const [copied, setCopied] = useState(false);

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await api(`users/${encodeURIComponent(user)}`, { method: 'PATCH', body: { password } });
      setShown(password);
      setPassword('');
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setBusy(false);
    }
  };

  const copy = async (text: string) => {
    try {
      await navigator.clipboard.writeText(text);
      setCopied(true);
    } catch {
      setError('The browser would not copy: select the password and copy it by hand.');
    }
  };

  if (shown !== null) {
    return (
      <div class="password-reset" data-testid={`password-set-${user}`} role="status">
        <p>
          {user}’s password is now <code class="secret" data-testid="new-password">{shown}</code>
          <button type="button" class="btn btn-small" onClick={() => copy(shown)}>
            {copied ? 'Copied' : 'Copy'}
          </button>
        </p>
        <p class="muted">It is shown only here and now: hand it to {user}. Their sign-ins have ended; they sign in again with it and can change it on their Account page.</p>
        <ErrorBanner error={error} />
        <button type="button" class="btn btn-small" onClick={onClose} data-testid={`password-done-${user}`}>
          Done
        </button>
      </div>
    );
  }

  return (
    <form class="password-reset form form-inline" onSubmit={submit} data-testid={`password-form-${user}`} aria-label={`New password for ${user}`} noValidate>
      <ErrorBanner error={error} onDismiss={() => setError(null)} />
      <label class="field">
        <span>New password for {user}</span>
        <input name="new-password" type="text" class="mono" autocomplete="off" spellcheck={false} value={password} onInput={(e) => setPassword(e.currentTarget.value)} data-testid={`new-password-${user}`} />
      </label>
      <button type="button" class="btn btn-small" onClick={() => setPassword(generatePassword())} disabled={busy}>
        Generate another
      </button>
      <button type="submit" class="btn btn-primary btn-small" disabled={busy || password.length === 0} data-testid={`set-password-${user}`}>
        Set password
      </button>
      <button type="button" class="btn btn-small" onClick={onClose} disabled={busy}>
        Cancel
      </button>
    </form>
  );
}
