// A user's webhooks: added, listed, removed, and their delivery log. Each user sees only their own
// (another's answers 404, like one that does not exist). Sending is in webhook-delivery.ts.
import { randomBytes } from 'node:crypto';
import { randomId } from '../../core/ids.js';
import * as webhooksRepo from '../../store/repositories/webhooks.js';
import { badRequest, notFound } from '../errors.js';
import type { UserPrincipal } from './accounts.js';
import { audit } from './audit.js';
import { type ServiceContext, nowIso } from './context.js';
import { PrivateAddressError, assertDeliverable } from './webhook-http.js';

import { WEBHOOK_EVENTS, type DeliveryView, type WebhookEvent, type WebhookView } from '../../wire/webhooks.js';
import { deliveryTriesOf } from '../../store/json-columns.js';

export { WEBHOOK_EVENTS, type DeliveryView, type WebhookEvent, type WebhookView };

/** The event a job's end is, by the status it ended in. */
export function eventOfJobStatus(status: string): WebhookEvent | null {
  return status === 'done' ? 'job.done' : status === 'error' ? 'job.error' : status === 'canceled' ? 'job.canceled' : null;
}


function webhookView(row: webhooksRepo.WebhookRow): WebhookView {
  return { id: row.id, url: row.url, events: row.events.split(',') as WebhookEvent[], createdAt: row.created_at };
}

const MAX_WEBHOOKS_PER_USER = 20;

/** Checks the URL and the events, then stores the webhook. Its secret is returned this once. */
export async function addWebhook(ctx: ServiceContext, me: UserPrincipal, urlText: string, events: string[] | undefined): Promise<WebhookView & { secret: string }> {
  let url: URL;
  try {
    url = new URL(urlText);
  } catch {
    throw badRequest(`"${urlText}" is not a URL (expected e.g. https://hooks.example.com/drover)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw badRequest('a webhook URL starts with http:// or https://');
  const chosen = [...new Set(events ?? WEBHOOK_EVENTS)];
  if (chosen.length === 0) throw badRequest(`name at least one event: ${WEBHOOK_EVENTS.join(', ')}`);
  const unknown = chosen.filter((e) => !(WEBHOOK_EVENTS as readonly string[]).includes(e));
  if (unknown.length > 0) throw badRequest(`unknown event ${unknown.map((e) => `"${e}"`).join(', ')}: the events are ${WEBHOOK_EVENTS.join(', ')}`);
  try {
    await assertDeliverable(url, ctx.config.webhookAllowPrivate);
  } catch (err) {
    throw badRequest(err instanceof PrivateAddressError ? `webhook refused: ${err.message}` : `webhook refused: ${(err as Error).message}`);
  }
  if ((await webhooksRepo.webhooksOf(ctx.db, me.id)).length >= MAX_WEBHOOKS_PER_USER) throw badRequest(`a user has at most ${MAX_WEBHOOKS_PER_USER} webhooks: remove one first`);
  const row = { id: randomId('w'), user_id: me.id, url: url.toString(), events: chosen.join(','), secret: `whsec_${randomBytes(24).toString('base64url')}`, created_at: nowIso() };
  await webhooksRepo.insertWebhook(ctx.db, row);
  // The URL's host only: its path or query may carry a token of the receiving service.
  await audit(ctx, me, 'webhook.add', row.id, { host: url.host, events: chosen });
  return { ...webhookView(row), secret: row.secret };
}

export async function webhooksOf(ctx: ServiceContext, me: UserPrincipal): Promise<WebhookView[]> {
  return (await webhooksRepo.webhooksOf(ctx.db, me.id)).map(webhookView);
}

export async function removeWebhook(ctx: ServiceContext, me: UserPrincipal, id: string): Promise<void> {
  if (!(await webhooksRepo.deleteWebhook(ctx.db, me.id, id))) throw notFound(`webhook ${id}`);
  await audit(ctx, me, 'webhook.remove', id);
}


export async function deliveriesOf(ctx: ServiceContext, me: UserPrincipal, webhookId: string, limit: number): Promise<DeliveryView[]> {
  if (!(await webhooksRepo.webhookOf(ctx.db, me.id, webhookId))) throw notFound(`webhook ${webhookId}`);
  return (await webhooksRepo.deliveriesOf(ctx.db, webhookId, limit)).map((d) => ({
    id: d.id,
    event: d.event,
    jobId: d.job_id,
    status: d.status,
    createdAt: d.created_at,
    attempts: d.attempts,
    nextAttemptAt: d.status === 'pending' ? d.next_attempt_at : null,
    deliveredAt: d.delivered_at,
    lastStatus: d.last_status,
    lastError: d.last_error,
    tries: deliveryTriesOf(d),
  }));
}
