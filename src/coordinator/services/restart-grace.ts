// After a coordinator restart: running tasks keep their leases for a while, longer after a longer
// outage, so agents that finished (or still run) them during the outage are heard from before
// anything is requeued.
import { restartGraceSeconds } from '../../core/restart-grace.js';
import { type ServiceContext, isoIn } from './context.js';

/**
 * The farm's downtime is read from the store, not this process: the last time any replica heard
 * from any agent. With another replica up, agents kept renewing and the downtime is about zero.
 */
export async function renewLeasesAfterRestart(ctx: ServiceContext): Promise<{ downtimeSeconds: number; graceSeconds: number }> {
  const row = await ctx.db.selectFrom('agents').select((eb) => eb.fn.max('last_seen_at').as('last')).executeTakeFirst();
  const last = row?.last ? Date.parse(String(row.last)) : Number.NaN;
  const downtimeSeconds = Math.max(0, (Date.now() - last) / 1000);
  const graceSeconds = restartGraceSeconds(ctx.config.leaseSeconds, downtimeSeconds, ctx.config.restartGraceMaxSeconds);
  await ctx.db.updateTable('tasks').set({ lease_expires_at: isoIn(graceSeconds) }).where('status', '=', 'running').execute();
  return { downtimeSeconds: Number.isFinite(downtimeSeconds) ? downtimeSeconds : 0, graceSeconds };
}
