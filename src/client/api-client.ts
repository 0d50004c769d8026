// The HTTP client for the coordinator (agents and the CLI): JSON in and out, retries with exponential backoff
// and jitter when the coordinator is unreachable (so a restarted coordinator is not stampeded),
// and several coordinator URLs tried in turn.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { BLOB_BATCH_TYPE, blobBatchHead } from '../core/blob-batch.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface RequestOptions {
  /** Retry network failures and 5xx answers until this many ms have passed (0: no retry; Infinity: until `signal` aborts). */
  retryForMs?: number;
  signal?: AbortSignal;
  /** Told of each failure about to be retried (to say on stderr or in a log what is happening). */
  onRetry?: (err: Error, attempt: number) => void;
  /** The longest wait between two retries (default 10 s). */
  maxBackoffMs?: number;
}

/** Waits `ms`, or less if `signal` aborts; leaves no listener behind either way. */
export const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const onAbort = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/** Full jitter: a random wait up to an exponentially growing cap. */
export function backoffMs(attempt: number, baseMs = 250, capMs = 10_000): number {
  return Math.random() * Math.min(capMs, baseMs * 2 ** attempt);
}

/**
 * Gives one request a signal of its own that follows `outer`. fetch keeps its abort listener on
 * the signal it is given until the request is collected, so a long-lived signal shared by
 * thousands of requests would pile up listeners.
 */
async function withOwnSignal<T>(outer: AbortSignal | undefined, fn: (signal: AbortSignal | undefined) => Promise<T>): Promise<T> {
  if (!outer) return fn(undefined);
  const own = new AbortController();
  const forward = () => own.abort(outer.reason);
  if (outer.aborted) own.abort(outer.reason);
  else outer.addEventListener('abort', forward, { once: true });
  try {
    return await fn(own.signal);
  } finally {
    outer.removeEventListener('abort', forward);
  }
}

/** A connection that was refused or never made: the request cannot have reached the coordinator. */
function neverDelivered(err: unknown): boolean {
  const code = (err as { cause?: { code?: string } }).cause?.code;
  return code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'EAI_AGAIN';
}

export class ApiClient {
  private current = 0;
  token: string | null = null;

  constructor(
    private readonly urls: readonly string[],
    private readonly options: { failover?: boolean } = {},
  ) {
    if (urls.length === 0) throw new Error('no coordinator URL given');
  }

  get baseUrl(): string {
    return this.urls[this.current]!;
  }

  /** `T` is the answer's type and `B` the body's, both from the wire contract (src/wire/) where it has them. */
  async json<T, B = unknown>(method: string, path: string, body?: B, opts: RequestOptions = {}): Promise<T> {
    return this.withRetry(opts, () =>
      withOwnSignal(opts.signal, async (signal) => {
        const res = await fetch(`${this.baseUrl}/api/v1${path}`, {
          method,
          headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...this.auth() },
          ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
          ...(signal ? { signal } : {}),
        });
        return (await this.read(res)) as T;
      }),
    );
  }

  async download(path: string, opts: RequestOptions = {}): Promise<Response> {
    return this.withRetry(opts, async () => {
      const res = await fetch(`${this.baseUrl}/api/v1${path}`, { headers: this.auth(), ...(opts.signal ? { signal: opts.signal } : {}) });
      if (!res.ok) await this.read(res);
      return res;
    });
  }

  async uploadFile(sha256: string, filePath: string, opts: RequestOptions = {}): Promise<void> {
    // The size up front lets the coordinator refuse a file it has no room for before it is sent.
    const { size } = await stat(filePath);
    await this.uploadStream(sha256, async () => createReadStream(filePath), opts, size);
  }

  /** Streams bytes to the blob store; `open` is called again for each retry. */
  async uploadStream(sha256: string, open: () => Promise<Readable>, opts: RequestOptions = {}, size?: number): Promise<void> {
    await this.withRetry(opts, async () => {
      const res = await fetch(`${this.baseUrl}/api/v1/blobs/${sha256}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/octet-stream', ...(size !== undefined ? { 'content-length': String(size) } : {}), ...this.auth() },
        body: Readable.toWeb(await open()) as ReadableStream,
        duplex: 'half',
      } as RequestInit);
      await this.read(res);
    });
  }

  /** Stores small files in one request (POST /blobs/batch, see src/core/blob-batch.ts), asking nothing first. */
  async uploadBatch(files: readonly { sha256: string; bytes: Uint8Array }[], opts: RequestOptions = {}): Promise<void> {
    const parts = files.flatMap((f) => [Buffer.from(blobBatchHead(f.sha256, f.bytes.length)), f.bytes]);
    const body = Buffer.concat(parts);
    await this.withRetry(opts, () =>
      withOwnSignal(opts.signal, async (signal) => {
        const res = await fetch(`${this.baseUrl}/api/v1/blobs/batch`, {
          method: 'POST',
          headers: { 'content-type': BLOB_BATCH_TYPE, ...this.auth() },
          body,
          ...(signal ? { signal } : {}),
        });
        await this.read(res);
      }),
    );
  }

  private auth(): Record<string, string> {
    return this.token ? { authorization: `Bearer ${this.token}` } : {};
  }

  private async read(res: Response): Promise<unknown> {
    const text = await res.text();
    let parsed: unknown = undefined;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (!res.ok) {
      const err = (parsed as { error?: { code?: string; message?: string } } | undefined)?.error;
      throw new ApiError(res.status, err?.code ?? 'http_error', err?.message ?? `HTTP ${res.status}`);
    }
    return parsed;
  }

  private async withRetry<T>(opts: RequestOptions, fn: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + (opts.retryForMs ?? 0);
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        // 507: the coordinator's disk is full; resending the same bytes at once will not help, so the
        // caller decides (an agent reports the task failed and it is retried later).
        const retriable = !(err instanceof ApiError) || (err.status >= 500 && err.status !== 507);
        // Another coordinator replica may answer while this one is down: the retry, or else the
        // next request, goes there. (Only rotating on retries left an idle agent, whose requests
        // are never retried, calling a dead replica for good.)
        if (retriable) this.current = (this.current + 1) % this.urls.length;
        // A refused connection never delivered the request: with `failover` the next replica is
        // asked at once, even by a request that is not retried otherwise.
        const untried = this.options.failover === true && attempt + 1 < this.urls.length && neverDelivered(err);
        if (!retriable || (Date.now() >= deadline && !untried) || opts.signal?.aborted) throw err;
        opts.onRetry?.(err as Error, attempt);
        await sleep(backoffMs(attempt, 250, opts.maxBackoffMs ?? 10_000), opts.signal);
        if (opts.signal?.aborted) throw err;
      }
    }
  }
}
