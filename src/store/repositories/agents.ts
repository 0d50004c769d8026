// Agents: their identity, resources and last contact.
import type { AgentsTable, Db } from '../schema.js';
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

export async function touchAgent(db: Db, id: string, now: string, status: string): Promise<void> {
  await db.updateTable('agents').set({ last_seen_at: now, status, removed: 0 }).where('id', '=', id).execute();
}

export function listAgents(db: Db) {
  return db.selectFrom('agents').selectAll().where('removed', '=', 0).orderBy('name').execute();
}

/** Agents not heard from since `before` are offline. */
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
