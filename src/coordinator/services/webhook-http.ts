// One signed POST to a webhook. Node's http(s) client with a DNS lookup that refuses private
// addresses (unless the admin allows them): the address checked is the address connected to, so a
// name that resolves to a public address when checked and a private one when used (DNS rebinding)
// is refused too. Redirects are not followed (they could lead anywhere).
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { isPrivateAddress } from '../../core/private-addresses.js';

export class PrivateAddressError extends Error {}

/** A lookup that fails for names resolving to a private address when those are not allowed. */
function guardedLookup(allowPrivate: boolean): LookupFunction {
  return ((hostname: string, options: { all?: boolean; family?: number }, callback: (err: Error | null, address: string | LookupAddress[], family?: number) => void) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, []);
      const bad = allowPrivate ? undefined : addresses.find((a) => isPrivateAddress(a.address));
      if (bad) return callback(new PrivateAddressError(`${hostname} resolves to the private address ${bad.address}, and this farm does not allow webhooks to private addresses`), []);
      if (options.all) return callback(null, addresses);
      const first = addresses[0]!;
      callback(null, first.address, first.family);
    });
  }) as unknown as LookupFunction;
}

/** Checks a URL's host the way a delivery will: refused when it is (or resolves to) a private address. */
export async function assertDeliverable(url: URL, allowPrivate: boolean): Promise<void> {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host)) {
    if (!allowPrivate && isPrivateAddress(host)) throw new PrivateAddressError(`${host} is a loopback or private address, and this farm does not allow webhooks to private addresses (an admin can: drover server --allow-private-webhooks)`);
    return;
  }
  await new Promise<void>((resolve, reject) =>
    guardedLookup(allowPrivate)(host, { all: true }, (err) => {
      if (err instanceof PrivateAddressError) reject(new PrivateAddressError(`${err.message} (an admin can allow it: drover server --allow-private-webhooks)`));
      else if (err) reject(new Error(`the host ${host} cannot be resolved (${(err as NodeJS.ErrnoException).code ?? err.message})`));
      else resolve();
    }),
  );
}

export interface PostOutcome {
  status: number;
  /** The start of the answer's body, for the delivery log. */
  excerpt: string;
}

/** POSTs `body`; resolves with the answer's status, rejects on a network failure or timeout. */
export function postSigned(url: URL, body: string, headers: Record<string, string>, opts: { allowPrivate: boolean; timeoutMs: number }): Promise<PostOutcome> {
  return new Promise((resolve, reject) => {
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (isIP(host) && !opts.allowPrivate && isPrivateAddress(host)) return reject(new PrivateAddressError(`${host} is a private address, and this farm does not allow webhooks to private addresses`));
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(url, {
      method: 'POST',
      headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
      lookup: guardedLookup(opts.allowPrivate),
      timeout: opts.timeoutMs,
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${Math.round(opts.timeoutMs / 1000)} s`)));
    req.on('error', reject);
    req.on('response', (res) => {
      let excerpt = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        if (excerpt.length < 200) excerpt += chunk.slice(0, 200 - excerpt.length);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, excerpt }));
      res.on('error', reject);
    });
    req.end(body);
  });
}
