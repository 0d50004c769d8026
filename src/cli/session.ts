// An API client for the signed-in user, and the CLI's way of failing.
import { ApiClient, ApiError } from '../client/api-client.js';
import { loadConfig, serverUrl } from './config.js';

export class CliError extends Error {}

export async function signedInClient(serverFlag?: string): Promise<ApiClient> {
  const config = await loadConfig();
  const client = new ApiClient([serverUrl(serverFlag, config)]);
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
  } else if (err instanceof CliError) {
    console.error(`error: ${err.message}`);
  } else if (err instanceof Error && TLS_TRUST_ERRORS.test(String((err as { cause?: { code?: string } }).cause?.code ?? ''))) {
    const cause = (err as { cause?: { message?: string } }).cause;
    console.error(`error: the coordinator's TLS certificate is not trusted (${cause?.message ?? 'unknown reason'}): point NODE_EXTRA_CA_CERTS at the CA or self-signed certificate that signed it`);
  } else if (err instanceof Error && /fetch failed|ECONNREFUSED/.test(err.message + String((err as { cause?: unknown }).cause))) {
    console.error('error: cannot reach the coordinator: is `drover up` or `drover server` running, and is --server right?');
  } else {
    console.error(`error: ${(err as Error)?.stack ?? String(err)}`);
  }
  process.exit(1);
}
