// Agents: their identity, resources and last contact.
import type { AgentsTable, Db } from '../schema.js';
import type { AgentStatus } from '../../wire/workers.js';
import { inLists } from '../statement-shapes.js';

export type AgentRow = AgentsTable;

export async function insertAgent(db: Db, row: AgentRow): Promise<void> {
  await db.insertInto('agents').values(row).execute();
}

export function findAgentByTokenHash(db: Db, tokenHash: string) {
  return db.selectFrom('agents').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
}

export async function updateAgentResources(
  db: Db,
  id: string,
  fields: Pick<AgentRow, 'name' | 'cores' | 'memory_bytes' | 'labels' | 'slots' | 'sandbox' | 'version' | 'status' | 'last_seen_at'>,
): Promise<void> {
  await db.updateTable('agents').set(fields).where('id', '=', id).execute();
}

export async function touchAgent(db: Db, id: string, now: string, status: AgentStatus): Promise<void> {
  await db.updateTable('agents').set({ last_seen_at: now, status, removed: 0 }).where('id', '=', id).execute();
}

export function findAgent(db: Db, id: string) {
  return db.selectFrom('agents').selectAll().where('id', '=', id).executeTakeFirst();
}

/** The agent's latest task attempts, newest first, with their job (for the agent's page). */
export function recentAttemptsOfAgent(db: Db, agentId: string, limit: number, userId: string | null) {
  let q = db
    .selectFrom('task_attempts')
    .innerJoin('tasks', 'tasks.id', 'task_attempts.task_id')
    .innerJoin('jobs', 'jobs.id', 'tasks.job_id')
    .select([
      'task_attempts.task_id',
      'task_attempts.attempt',
      'task_attempts.status',
      'task_attempts.started_at',
      'task_attempts.finished_at',
      'task_attempts.exit_code',
      'task_attempts.error',
      'tasks.idx',
      'tasks.job_id',
      'jobs.name as job_name',
    ])
    .where('task_attempts.agent_id', '=', agentId);
  if (userId !== null) q = q.where('jobs.user_id', '=', userId);
  return q.orderBy('task_attempts.started_at', 'desc').limit(limit).execute();
}

/** Jobs that gave this agent up after too many of their tasks failed on it. */
export function jobsBlockingAgent(db: Db, agentId: string, limit: number, userId: string | null) {
  let q = db
    .selectFrom('job_agent_failures')
    .innerJoin('jobs', 'jobs.id', 'job_agent_failures.job_id')
    .select(['jobs.id', 'jobs.name', 'job_agent_failures.failures'])
    .where('job_agent_failures.agent_id', '=', agentId)
    .where('job_agent_failures.failures', '>=', limit);
  if (userId !== null) q = q.where('jobs.user_id', '=', userId);
  return q.orderBy('jobs.created_at', 'desc').limit(50).execute();
}

export function listAgents(db: Db) {
  return db.selectFrom('agents').selectAll().where('removed', '=', 0).orderBy('name').execute();
}

/** Agents not heard from since `before` are offline. */
/** An agent of this name that is online (or draining) and was heard from since `since`. */
export function findLiveAgentByName(db: Db, name: string, since: string) {
  return db.selectFrom('agents').select(['id', 'last_seen_at']).where('name', '=', name).where('status', '!=', 'offline').where('last_seen_at', '>=', since).executeTakeFirst();
}

export async function markSilentAgentsOffline(db: Db, before: string): Promise<void> {
  await db.updateTable('agents').set({ status: 'offline' }).where('status', '!=', 'offline').where('last_seen_at', '<', before).execute();
}

export async function countOnlineAgents(db: Db): Promise<number> {
  const row = await db.selectFrom('agents').select((eb) => eb.fn.countAll<number>().as('n')).where('status', '=', 'online').executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Online agents' host facts, for host requirements' fit. */
export function onlineAgentHosts(db: Db) {
  return db.selectFrom('agents').select(['name', 'cores', 'memory_bytes', 'labels', 'attributes']).where('status', '=', 'online').execute();
}

export function onlineAgentCapacities(db: Db) {
  return db.selectFrom('agents').select(['name', 'slots']).where('status', '=', 'online').execute();
}

/** Online agents (not draining, not silent) with the cores each offers: who may take tasks now. */
export function onlineAgentSlots(db: Db) {
  return db.selectFrom('agents').select(['id', 'name', 'slots']).where('status', '=', 'online').where('paused', '=', 0).execute();
}

export function findAgentByName(db: Db, name: string) {
  return db.selectFrom('agents').selectAll().where('name', '=', name).where('removed', '=', 0).orderBy('last_seen_at', 'desc').executeTakeFirst();
}

export async function setAgentFlags(db: Db, id: string, fields: Partial<Pick<AgentRow, 'paused' | 'removed' | 'labels' | 'set_labels'>>): Promise<void> {
  await db.updateTable('agents').set(fields).where('id', '=', id).execute();
}

/** The current row facts of `ids` that leasing reads: paused, and the host facts requirements match. */
export async function leasingStates(db: Db, ids: readonly string[]) {
  const rows = [];
  // Lists of a few shapes, so that the statement is prepared once (see statement-shapes.ts).
  for (const part of inLists(ids)) rows.push(...(await db.selectFrom('agents').select(['id', 'paused', 'cores', 'memory_bytes', 'labels', 'attributes']).where('id', 'in', part).execute()));
  return rows;
}
export async function countPausedOnline(db: Db): Promise<number> {
  const row = await db.selectFrom('agents').select((eb) => eb.fn.countAll<number>().as('n')).where('status', '=', 'online').where('paused', '=', 1).executeTakeFirstOrThrow();
  return Number(row.n);
}
