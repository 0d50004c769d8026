// An API client for the signed-in user, and the CLI's way of failing.
import { ApiClient, ApiError, backoffMs, type RequestOptions, sleep } from '../client/api-client.js';
import { loadConfig, serverUrls } from './config.js';
import { CliError } from './errors.js';

export { CliError };

export async function signedInClient(serverFlag?: string): Promise<ApiClient> {
  const config = await loadConfig();
  const client = new ApiClient(serverUrls(serverFlag, config), { failover: true });
  const token = process.env.DROVER_TOKEN ?? config.token;
  if (!token) throw new CliError('not signed in: run `drover login` first');
  client.token = token;
  return client;
}

const TLS_TRUST_ERRORS = /SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|CERT_HAS_EXPIRED|ERR_TLS_CERT_ALTNAME_INVALID|CERT_NOT_YET_VALID/;

/** Prints an error as one readable line and exits non-zero. */
export function failAndExit(err: unknown): never {
  if (err instanceof ApiError) {
    const hint = err.status === 401 ? ' (run `drover login`)' : '';
    console.error(`error: ${err.message}${hint}`);
  } else if (err instanceof CliError || (err instanceof Error && err.name === 'ConfigError')) {
    // ConfigError (src/env-settings.ts): a setting of `drover server`/`up`/`agent` that cannot be used.
    console.error(`error: ${err.message}`);
  } else if (err instanceof Error && TLS_TRUST_ERRORS.test(String((err as { cause?: { code?: string } }).cause?.code ?? ''))) {
    const cause = (err as { cause?: { message?: string } }).cause;
    console.error(`error: the coordinator's TLS certificate is not trusted (${cause?.message ?? 'unknown reason'}): point NODE_EXTRA_CA_CERTS at the CA or self-signed certificate that signed it`);
  } else if (isUnreachable(err)) {
    console.error('error: cannot reach the coordinator: is `drover up` or `drover server` running, and is --server right?');
  } else if (err instanceof Error && (err as NodeJS.ErrnoException).code && (err as NodeJS.ErrnoException).syscall) {
    // A local file system error (no room, no permission…): its message names the path.
    console.error(`error: ${err.message}`);
  } else {
    console.error(`error: ${(err as Error)?.stack ?? String(err)}`);
  }
  process.exit(1);
}

/** A network failure (refused, reset, cut mid-answer), not an answer from the coordinator. */
export function isUnreachable(err: unknown): boolean {
  if (!(err instanceof Error) || err instanceof ApiError) return false;
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return /fetch failed|terminated|ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|UND_ERR|other side closed/.test(`${err.message} ${cause?.code ?? ''} ${cause?.message ?? ''}`);
}

/**
 * How the CLI's long operations (`-w`, `job logs -f`, downloads, uploads) wait out a coordinator
 * restart or a network cut: retried with backoff until it answers, or for DROVER_CLI_RETRY_SECONDS
 * when set (then a one-line error); each outage is said once on stderr.
 */
export function patientRetry(what: string): RequestOptions {
  const limit = Number(process.env.DROVER_CLI_RETRY_SECONDS);
  return { retryForMs: Number.isFinite(limit) && limit >= 0 ? limit * 1000 : Infinity, onRetry: (err, attempt) => sayWaiting(what, err, attempt), maxBackoffMs: 5000 };
}

let lastWaitNote = 0;
/** Says on stderr that the CLI is waiting for the coordinator, at most every 30 s. */
export function sayWaiting(what: string, err: Error, attempt: number): void {
  if (attempt > 0 && Date.now() - lastWaitNote < 30_000) return;
  lastWaitNote = Date.now();
  const why = err instanceof ApiError ? `it answered ${err.status}` : 'it cannot be reached';
  process.stderr.write(`drover: ${what}: ${why}; retrying until it is back (Ctrl-C to give up)\n`);
}

/**
 * Runs `fn` again whenever the connection fails part-way (a coordinator restart cuts a download
 * mid-stream, which no request-level retry sees), with the same patience as `patientRetry`.
 */
export async function untilReachable<T>(what: string, fn: (retry: RequestOptions) => Promise<T>): Promise<T> {
  const retry = patientRetry(what);
  const deadline = Date.now() + (retry.retryForMs ?? 0);
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(retry);
    } catch (err) {
      if (!isUnreachable(err) || Date.now() >= deadline) throw err;
      sayWaiting(what, err as Error, attempt);
      await sleep(backoffMs(attempt, 250, 5000));
    }
  }
}
