// An admin sets a user's limits (PATCH /users/:name): the cores their running tasks may hold
// together, core-hours per calendar month and what a spent budget does. An empty box is no limit.
import { useState } from 'preact/hooks';
import { api, messageOf, type UserQuota } from '../api.ts';
import { ErrorBanner } from '../components.tsx';

export function QuotaForm({ user, quota, onSaved }: { user: string; quota: UserQuota; onSaved: () => void }) {
  const [maxCores, setMaxCores] = useState(quota.maxCores === null ? '' : String(quota.maxCores));
  const [hours, setHours] = useState(quota.monthlyCoreHours === null ? '' : String(quota.monthlyCoreHours));
  const [overBudget, setOverBudget] = useState(quota.overBudget);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const submit = async (event: Event) => {
    event.preventDefault();
    const cores = maxCores.trim() === '' ? null : Number(maxCores);
    const budget = hours.trim() === '' ? null : Number(hours);
    // Said here, before asking: the coordinator would refuse the same with a schema's words.
    if (cores !== null && (!Number.isInteger(cores) || cores < 1)) return setError('Max cores is a whole number of at least 1, or empty for no cap.');
    if (budget !== null && !(Number.isFinite(budget) && budget > 0)) return setError('Core-hours a month is a number above 0, or empty for no budget.');
    setBusy(true);
    setError(null);
    try {
      await api(`users/${encodeURIComponent(user)}`, { method: 'PATCH', body: { maxCores: cores, monthlyCoreHours: budget, overBudget } });
      onSaved();
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="form form-inline quota-form" aria-label={`Limits of ${user}`} onSubmit={submit} data-testid={`quota-form-${user}`}>
      <label class="field">
        <span>Max cores at once</span>
        <input name="max-cores" inputMode="numeric" placeholder="no cap" value={maxCores} onInput={(e) => setMaxCores(e.currentTarget.value)} />
      </label>
      <label class="field">
        <span>Core-hours a month</span>
        <input name="monthly-core-hours" inputMode="decimal" placeholder="no budget" value={hours} onInput={(e) => setHours(e.currentTarget.value)} />
      </label>
      <label class="field">
        <span>Once spent</span>
        <select name="over-budget" value={overBudget} onChange={(e) => setOverBudget(e.currentTarget.value as UserQuota['overBudget'])}>
          <option value="hold">hold: start no new task</option>
          <option value="stop">stop: running tasks too</option>
        </select>
      </label>
      <button type="submit" class="btn btn-primary" disabled={busy} data-testid={`save-quota-${user}`}>
        Save limits
      </button>
      <ErrorBanner error={error} onDismiss={() => setError(null)} />
    </form>
  );
}
