// One's own list of things made and removed from the Account page (API tokens, webhooks): the
// list, a create whose answer carries a secret shown once, and a remove after a confirm. Both
// pages share this so they load, report errors and clear the shown secret the same way.
import { useEffect, useState } from 'preact/hooks';
import { api, messageOf } from '../api.ts';

/**
 * `path` is the collection (GET lists it under `listKey`, POST creates, DELETE `path/id` removes);
 * `Shown` is what the page keeps of a create's answer to show once (its token or signing secret).
 */
export function useOwnedList<Item, Shown>(path: string, listKey: string) {
  const [items, setItems] = useState<Item[] | null>(null);
  const [created, setCreated] = useState<Shown | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const load = async () => {
    try {
      setItems((await api<Record<string, Item[]>>(path))[listKey]!);
    } catch (e) {
      setError(messageOf(e));
    }
  };
  useEffect(() => {
    void load();
    // loaded once, on mount: each page passes a fixed path, and later loads follow its own changes
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  /** The create form's submit: `post` makes one and returns what to show; `reset` clears the form. */
  const create = async (event: Event, post: () => Promise<Shown>, reset: () => void) => {
    event.preventDefault();
    setBusy(true);
    setCreated(null);
    try {
      setCreated(await post());
      reset();
      setError(null);
      await load();
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setBusy(false);
    }
  };

  /** Removes `id` once the user confirms `question`; the shown secret goes too if `wasShown` says it was this one's. */
  const remove = async (id: string, question: string, wasShown: (shown: Shown) => boolean) => {
    if (!confirm(question)) return;
    try {
      await api(`${path}/${encodeURIComponent(id)}`, { method: 'DELETE' });
      if (created !== null && wasShown(created)) setCreated(null);
      await load();
    } catch (e) {
      setError(messageOf(e));
    }
  };

  return { items, created, error, setError, busy, create, remove };
}
