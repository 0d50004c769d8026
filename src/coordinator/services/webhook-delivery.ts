// Sends queued webhook deliveries: each claimed in the store by one coordinator, signed
// (`X-Drover-Signature: sha256=<HMAC-SHA256 of the body with the webhook's secret>`), POSTed, and on
// failure tried again with a doubling wait (from `webhookRetryBaseSeconds`, at most an hour apart)
// until it succeeds or a day (`webhookGiveUpSeconds`) has passed. Everything is in the store, so a
// restart resumes where it was; a claim left by a crash runs out after CLAIM_SECONDS.
import { createHmac } from 'node:crypto';
import * as jobsRepo from '../../store/repositories/jobs.js';
import * as usersRepo from '../../store/repositories/users.js';
import * as webhooksRepo from '../../store/repositories/webhooks.js';
import { DROVER_VERSION } from '../../version.js';
import { type ServiceContext, nowIso } from './context.js';
import { detailedJobView, taskView } from './views.js';
import * as tasksRepo from '../../store/repositories/tasks.js';
import { kindOf } from '../kinds/index.js';
import { postSigned } from './webhook-http.js';
import { deliveryTriesOf } from '../../store/json-columns.js';

const TIMEOUT_MS = 15_000;
/** Longer than a try can take (the timeout), so a live claim is never taken over. */
const CLAIM_SECONDS = 60;
const BATCH = 20;
const MAX_WAIT_SECONDS = 3600;
/** Tries kept in a delivery's log (the first and the latest). */
const TRIES_KEPT = 30;

export function signatureOf(body: string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** The wait after the `attempts`-th failed try. */
export function retryDelaySeconds(attempts: number, baseSeconds: number): number {
  return Math.min(MAX_WAIT_SECONDS, baseSeconds * 2 ** Math.max(0, attempts - 1));
}

/** Tasks a delivery lists; a bigger job's body says how many more there are (`tasksOmitted`). */
const TASKS_IN_BODY = 1000;

/**
 * What is sent: the event, when it happened, and the job as `job view --json` shows it (its view
 * and its tasks, as GET /jobs/:id/tasks lists them), read when the delivery is first tried.
 */
async function bodyOf(ctx: ServiceContext, d: webhooksRepo.ClaimedDelivery): Promise<string> {
  const row = await jobsRepo.findJob(ctx.db, d.job_id);
  if (!row) return JSON.stringify({ event: d.event, time: d.created_at, delivery: d.id, job: { id: d.job_id, deleted: true } });
  const owner = await usersRepo.findUserById(ctx.db, row.user_id);
  const view = await detailedJobView(ctx.db, row, owner?.name ?? '?', ctx.config.agentFailureLimit);
  const step = kindOf(row.kind).countedStep;
  const stepFilter = step !== undefined ? { step } : {};
  const tasks = (await tasksRepo.listTasks(ctx.db, row.id, { offset: 0, limit: TASKS_IN_BODY, ...stepFilter })).map((t) => taskView(t, row.max_attempts));
  const total = tasks.length < TASKS_IN_BODY ? tasks.length : await tasksRepo.countTasks(ctx.db, row.id, undefined, step);
  const job = { ...view, tasks, ...(total > tasks.length ? { tasksOmitted: total - tasks.length } : {}) };
  return JSON.stringify({ event: d.event, time: d.created_at, delivery: d.id, job });
}

async function deliverOne(ctx: ServiceContext, d: webhooksRepo.ClaimedDelivery): Promise<void> {
  // Fixed at the first try, so every retry sends (and signs) the same bytes.
  const body = d.body ?? (await bodyOf(ctx, d));
  const headers = {
    'content-type': 'application/json',
    'user-agent': `Drover/${DROVER_VERSION}`,
    'x-drover-event': d.event,
    'x-drover-delivery': d.id,
    'x-drover-signature': signatureOf(body, d.secret),
  };
  let status: number | null = null;
  let error: string | null = null;
  try {
    const answer = await postSigned(new URL(d.url), body, headers, { allowPrivate: ctx.config.webhookAllowPrivate, timeoutMs: TIMEOUT_MS });
    status = answer.status;
    if (status >= 300 && status < 400) error = `answered ${status}: redirects are not followed`;
    else if (status < 200 || status >= 300) error = `answered ${status}${answer.excerpt ? `: ${answer.excerpt.replace(/\s+/g, ' ').trim()}` : ''}`;
  } catch (err) {
    error = (err as Error).message || String(err);
  }
  const now = nowIso();
  const attempts = d.attempts + 1;
  const tries = [...deliveryTriesOf(d), { time: now, status, error }];
  const kept = tries.length > TRIES_KEPT ? [tries[0], ...tries.slice(-(TRIES_KEPT - 1))] : tries;
  const ok = error === null;
  const next = new Date(Date.now() + retryDelaySeconds(attempts, ctx.config.webhookRetryBaseSeconds) * 1000);
  const giveUp = !ok && next.getTime() > Date.parse(d.created_at) + ctx.config.webhookGiveUpSeconds * 1000;
  await webhooksRepo.recordTry(ctx.db, d.id, {
    status: ok ? 'delivered' : giveUp ? 'failed' : 'pending',
    attempts,
    next_attempt_at: ok || giveUp ? now : next.toISOString(),
    last_status: status,
    last_error: error,
    delivered_at: ok ? now : null,
    tries: JSON.stringify(kept),
    body,
  });
}

/** Starts the sender; `stop()` waits for the tries under way. */
export function startWebhookDelivery(ctx: ServiceContext, everyMs = 1000): { stop(): Promise<void>; runOnce(): Promise<void> } {
  let running: Promise<void> | null = null;
  let stopped = false;
  const runOnce = async () => {
    for (;;) {
      const now = new Date();
      const claimed = await webhooksRepo.claimDueDeliveries(ctx.db, now.toISOString(), new Date(now.getTime() + CLAIM_SECONDS * 1000).toISOString(), BATCH);
      if (claimed.length === 0) return;
      await Promise.all(claimed.map((d) => deliverOne(ctx, d).catch((err: Error) => console.error(`[coordinator] webhook delivery ${d.id} failed to be recorded: ${err.message}`))));
      if (claimed.length < BATCH || stopped) return;
    }
  };
  const timer = setInterval(() => {
    if (running || stopped) return;
    running = runOnce()
      .catch((err: Error) => console.error(`[coordinator] webhook deliveries: ${err.message}`))
      .finally(() => (running = null));
  }, everyMs);
  return {
    runOnce,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
