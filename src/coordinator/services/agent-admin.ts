// Agents people manage (admins): pause, resume, label, remove.
import * as agentsRepo from '../../store/repositories/agents.js';
import { conflict, notFound } from '../errors.js';
import { forgetAgentPrincipal, mergeLabels } from './agents.js';
import { type ServiceContext } from './context.js';
import { labelsOf } from '../../store/json-columns.js';

/** An agent by its id or, as people type it, its name. */
export async function agentByIdOrName(ctx: ServiceContext, idOrName: string) {
  const row = (await agentsRepo.findAgent(ctx.db, idOrName)) ?? (await agentsRepo.findAgentByName(ctx.db, idOrName));
  if (!row) throw notFound(`agent ${idOrName}`);
  return row;
}

/** Pausing: it finishes its running tasks and takes no new ones until resumed. */
export async function setAgentPaused(ctx: ServiceContext, name: string, paused: boolean): Promise<void> {
  const row = await agentByIdOrName(ctx, name);
  await agentsRepo.setAgentFlags(ctx.db, row.id, { paused: paused ? 1 : 0 });
  if (!paused) ctx.bus.emit('work');
}

/** Sets (or, with an empty value, removes) labels of an agent from the coordinator; kept over what it reports. */
export async function labelAgent(ctx: ServiceContext, name: string, changes: Record<string, string>): Promise<Record<string, string>> {
  const row = await agentByIdOrName(ctx, name);
  const setLabels = { ...labelsOf(row.set_labels), ...changes };
  const labels = mergeLabels(labelsOf(row.labels), changes);
  await agentsRepo.setAgentFlags(ctx.db, row.id, { labels: JSON.stringify(labels), set_labels: JSON.stringify(setLabels) });
  forgetAgentPrincipal(ctx, row.token_hash);
  ctx.bus.emit('work');
  return labels;
}

/** An offline agent leaves the list (and comes back if it is heard from again). */
export async function removeAgent(ctx: ServiceContext, name: string): Promise<void> {
  const row = await agentByIdOrName(ctx, name);
  if (row.status !== 'offline') throw conflict(`agent ${name} is ${row.status}: stop it first (SIGTERM drains it), or pause it; only an offline agent can be removed`);
  await agentsRepo.setAgentFlags(ctx.db, row.id, { removed: 1 });
}
