// Agents people manage (admins): pause, resume, remove, and one agent's recent work.
import * as agentsRepo from '../../store/repositories/agents.js';
import { conflict, notFound } from '../errors.js';
import { forgetAgentPrincipal, mergeLabels } from './agents.js';
import { type ServiceContext } from './context.js';

async function agentNamed(ctx: ServiceContext, name: string) {
  const row = await agentsRepo.findAgentByName(ctx.db, name);
  if (!row) throw notFound(`agent ${name}`);
  return row;
}

/** Pausing: it finishes its running tasks and takes no new ones until resumed. */
export async function setAgentPaused(ctx: ServiceContext, name: string, paused: boolean): Promise<void> {
  const row = await agentNamed(ctx, name);
  await agentsRepo.setAgentFlags(ctx.db, row.id, { paused: paused ? 1 : 0 });
  if (!paused) ctx.bus.emit('work');
}

/** Sets (or, with an empty value, removes) labels of an agent from the coordinator; kept over what it reports. */
export async function labelAgent(ctx: ServiceContext, name: string, changes: Record<string, string>): Promise<Record<string, string>> {
  const row = await agentNamed(ctx, name);
  const setLabels = { ...(JSON.parse(row.set_labels || '{}') as Record<string, string>), ...changes };
  const labels = mergeLabels(JSON.parse(row.labels || '{}') as Record<string, string>, changes);
  await agentsRepo.setAgentFlags(ctx.db, row.id, { labels: JSON.stringify(labels), set_labels: JSON.stringify(setLabels) });
  forgetAgentPrincipal(ctx, row.token_hash);
  ctx.bus.emit('work');
  return labels;
}

/** An offline agent leaves the list (and comes back if it is heard from again). */
export async function removeAgent(ctx: ServiceContext, name: string): Promise<void> {
  const row = await agentNamed(ctx, name);
  if (row.status !== 'offline') throw conflict(`agent ${name} is ${row.status}: stop it first (SIGTERM drains it), or pause it; only an offline agent can be removed`);
  await agentsRepo.setAgentFlags(ctx.db, row.id, { removed: 1 });
}

/** One agent and its last attempts (admins see which jobs; others only that it worked). */
export async function agentView(ctx: ServiceContext, name: string, limit = 20) {
  const row = await agentNamed(ctx, name);
  const attempts = await ctx.db
    .selectFrom('task_attempts')
    .innerJoin('tasks', 'tasks.id', 'task_attempts.task_id')
    .select(['task_attempts.task_id', 'tasks.job_id', 'tasks.idx', 'task_attempts.attempt', 'task_attempts.status', 'task_attempts.started_at', 'task_attempts.finished_at', 'task_attempts.error'])
    .where('task_attempts.agent_id', '=', row.id)
    .orderBy('task_attempts.started_at', 'desc')
    .limit(limit)
    .execute();
  return { row, attempts };
}
