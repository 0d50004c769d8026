// Webhooks and their deliveries. A delivery is claimed by one coordinator (replica) at a time:
// `claimed_until` is set in the claiming transaction (rows locked with SKIP LOCKED on PostgreSQL),
// so two replicas never send the same delivery, and a claim left by a crash runs out by itself.
import { randomId } from '../../core/ids.js';
import { isPostgres } from '../dialect.js';
import type { Db, WebhookDeliveriesTable, WebhooksTable } from '../schema.js';

export type WebhookRow = WebhooksTable;
export type DeliveryRow = WebhookDeliveriesTable;

export async function insertWebhook(db: Db, row: WebhookRow): Promise<void> {
  await db.insertInto('webhooks').values(row).execute();
}

export function webhooksOf(db: Db, userId: string) {
  return db.selectFrom('webhooks').selectAll().where('user_id', '=', userId).orderBy('created_at').execute();
}

/** The webhook if it is this user's; another user's answers as if it did not exist. */
export function webhookOf(db: Db, userId: string, id: string) {
  return db.selectFrom('webhooks').selectAll().where('id', '=', id).where('user_id', '=', userId).executeTakeFirst();
}

export function findWebhook(db: Db, id: string) {
  return db.selectFrom('webhooks').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function deleteWebhook(db: Db, userId: string, id: string): Promise<boolean> {
  const result = await db.deleteFrom('webhooks').where('id', '=', id).where('user_id', '=', userId).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

/**
 * Queues `event` of the job for each of its owner's webhooks that asked for it, inside the caller's
 * transaction (the one that ended the job): the event is stored exactly when the job's end is.
 */
export async function enqueueJobEvent(db: Db, jobId: string, event: string, now: string): Promise<number> {
  const hooks = await db
    .selectFrom('webhooks')
    .innerJoin('jobs', 'jobs.user_id', 'webhooks.user_id')
    .select(['webhooks.id', 'webhooks.events'])
    .where('jobs.id', '=', jobId)
    .execute();
  const wanted = hooks.filter((h) => h.events.split(',').includes(event));
  if (wanted.length === 0) return 0;
  await db
    .insertInto('webhook_deliveries')
    .values(wanted.map((h) => ({ id: randomId('d'), webhook_id: h.id, event, job_id: jobId, created_at: now, status: 'pending', body: null, attempts: 0, next_attempt_at: now, claimed_until: null, last_status: null, last_error: null, delivered_at: null, tries: '[]' })))
    .execute();
  return wanted.length;
}

/** Claims up to `limit` due deliveries until `until`; returns them with their webhook. */
export async function claimDueDeliveries(db: Db, now: string, until: string, limit: number) {
  const claim = async (trx: Db) => {
    let q = trx
      .selectFrom('webhook_deliveries')
      .select('id')
      .where('status', '=', 'pending')
      .where('next_attempt_at', '<=', now)
      .where((eb) => eb.or([eb('claimed_until', 'is', null), eb('claimed_until', '<', now)]))
      .orderBy('next_attempt_at')
      .limit(limit);
    if (isPostgres(trx)) q = q.forUpdate().skipLocked();
    const ids = (await q.execute()).map((r) => r.id);
    if (ids.length === 0) return [];
    await trx.updateTable('webhook_deliveries').set({ claimed_until: until }).where('id', 'in', ids).execute();
    return trx
      .selectFrom('webhook_deliveries')
      .innerJoin('webhooks', 'webhooks.id', 'webhook_deliveries.webhook_id')
      .selectAll('webhook_deliveries')
      .select(['webhooks.url', 'webhooks.secret', 'webhooks.user_id'])
      .where('webhook_deliveries.id', 'in', ids)
      .execute();
  };
  return db.isTransaction ? claim(db) : db.transaction().execute(claim);
}

export type ClaimedDelivery = Awaited<ReturnType<typeof claimDueDeliveries>>[number];

/** Writes what one try did and releases the claim. */
export async function recordTry(db: Db, id: string, fields: Pick<DeliveryRow, 'status' | 'attempts' | 'next_attempt_at' | 'last_status' | 'last_error' | 'delivered_at' | 'tries' | 'body'>): Promise<void> {
  await db.updateTable('webhook_deliveries').set({ ...fields, claimed_until: null }).where('id', '=', id).execute();
}

export function deliveriesOf(db: Db, webhookId: string, limit: number) {
  return db.selectFrom('webhook_deliveries').selectAll().where('webhook_id', '=', webhookId).orderBy('created_at', 'desc').orderBy('id').limit(limit).execute();
}
