// EventSource with reconnection that the browser does not do by itself (after a hard failure the
// stream is CLOSED for good), plus a hook for "connected again: catch up on what was missed".
import { apiUrl } from './api.ts';

export interface StreamHandlers {
  events: Record<string, (data: unknown) => void>;
  /** Called on every (re)connection, so the page can fetch what it may have missed. */
  onOpen?: (first: boolean) => void;
  /** Called when the stream failed and will be retried; the page can check why (401, 404). */
  onFailure?: () => void;
}

export interface Stream {
  close(): void;
  readonly connected: boolean;
}

export function openStream(path: string, handlers: StreamHandlers, retryMs = 3000): Stream {
  let source: EventSource | null = null;
  let closed = false;
  let connected = false;
  let first = true;
  let retry: ReturnType<typeof setTimeout> | undefined;

  const connect = () => {
    if (closed) return;
    const es = new EventSource(apiUrl(path), { withCredentials: true });
    source = es;
    es.onopen = () => {
      connected = true;
      handlers.onOpen?.(first);
      first = false;
    };
    for (const [name, handler] of Object.entries(handlers.events)) {
      es.addEventListener(name, (event) => {
        const data = (event as MessageEvent<string>).data;
        let parsed: unknown = data;
        try {
          parsed = data ? JSON.parse(data) : null;
        } catch {
          // plain text event
        }
        handler(parsed);
      });
    }
    es.onerror = () => {
      connected = false;
      if (closed) return;
      if (es.readyState === EventSource.CLOSED) {
        handlers.onFailure?.();
        clearTimeout(retry);
        retry = setTimeout(connect, retryMs);
      }
    };
  };
  connect();
  return {
    close() {
      closed = true;
      connected = false;
      clearTimeout(retry);
      source?.close();
    },
    get connected() {
      return connected;
    },
  };
}
