// Agents joining the farm, their credentials and their heartbeats.
import { type HostFacts, hostFactsOf } from '../../core/templates/host-match.js';
import { randomBytes } from 'node:crypto';
import { chmod, link, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { newSecret, randomId } from '../../core/ids.js';
import { isTerminalJob } from '../../core/states.js';
import * as agentsRepo from '../../store/repositories/agents.js';
import * as jobsRepo from '../../store/repositories/jobs.js';
import * as taskBatches from '../../store/repositories/task-batches.js';
import * as tasksRepo from '../../store/repositories/tasks.js';
import { digestToken, sameDigest } from '../auth/secrets.js';
import { conflict, unauthorized } from '../errors.js';
import { type ServiceContext, isoIn, nowIso } from './context.js';
import { transact } from '../../store/group-commit.js';
import { wakeForQuotas } from './quotas.js';
import type { TaskAttempt } from '../../wire/agents.js';
import { labelsOf } from '../../store/json-columns.js';

export interface AgentPrincipal {
  kind: 'agent';
  id: string;
  name: string;
  /** Cores it offers: the largest task it can run. */
  slots: number;
  /** What host requirements of template steps are matched against. */
  host: HostFacts;
}

export const AGENT_TOKEN_PREFIX = 'drv_a';
const JOIN_TOKEN_PREFIX = 'drv_join';

/**
 * Reads the join token from `path` (default DIR/agent-token), creating it (mode 0600) on first start.
 * Coordinator replicas point `path` at one shared file; when two create it at once, the file is
 * written aside and linked into place, so exactly one token wins and nobody reads a half-written file.
 */
export async function ensureJoinToken(dataDir: string, path = join(dataDir, 'agent-token')): Promise<{ token: string; path: string; created: boolean }> {
  const read = async () => (await readFile(path, 'utf8')).trim();
  try {
    return { token: await read(), path, created: false };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const token = `${JOIN_TOKEN_PREFIX}_${randomBytes(32).toString('base64url')}`;
  const aside = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(aside, `${token}\n`, { mode: 0o600, flag: 'wx' });
  await chmod(aside, 0o600);
  try {
    await link(aside, path);
    return { token, path, created: true };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return { token: await read(), path, created: false };
  } finally {
    await unlink(aside).catch(() => {});
  }
}

export interface AgentResources {
  name: string;
  cores: number;
  memoryBytes: number;
  labels: Record<string, string>;
  slots: number;
  sandbox: boolean;
  version: string;
  agentId?: string;
  /** Host facts beyond cores and memory (older agents send none: linux, x86_64, no GPU). */
  attributes?: { os: string; arch: string; gpus: number };
  /** What it can enforce on host tasks (older agents send nothing: unknown). */
  limits?: { memory: boolean; processes: boolean; how: string };
}

/**
 * Registers an agent that holds the join token. An agent that names its earlier id and still
 * holds its earlier credentials (sent as `previousToken`) keeps its identity across restarts.
 */
export async function registerAgent(
  ctx: ServiceContext,
  joinToken: string,
  expectedJoinToken: string,
  resources: AgentResources,
  previousToken?: string,
): Promise<{ agentId: string; agentToken: string }> {
  if (!sameDigest(digestToken(joinToken), digestToken(expectedJoinToken))) throw unauthorized('the agent join token is not valid');
  const now = nowIso();
  const fields = {
    name: resources.name,
    cores: resources.cores,
    memory_bytes: resources.memoryBytes,
    labels: JSON.stringify(resources.labels),
    attributes: JSON.stringify(resources.attributes ?? {}),
    limits: JSON.stringify(resources.limits ?? {}),
    slots: resources.slots,
    sandbox: resources.sandbox ? 1 : 0,
    version: resources.version,
    status: 'online' as const,
    last_seen_at: now,
  };
  if (previousToken) {
    const existing = await agentsRepo.findAgentByTokenHash(ctx.db, digestToken(previousToken));
    if (existing) {
      // Labels set from the coordinator (`drover worker label`) stay over what the agent says.
      const labels = JSON.stringify(mergeLabels(resources.labels, labelsOf(existing.set_labels)));
      await agentsRepo.updateAgentResources(ctx.db, existing.id, { ...fields, labels });
      principalCache(ctx).delete(existing.token_hash); // its name may have changed
      return { agentId: existing.id, agentToken: previousToken };
    }
  }
  // A new identity under the name of an agent that is still heard from: two processes would pass
  // for one in every list and log. The one already online keeps the name.
  const sameName = await agentsRepo.findLiveAgentByName(ctx.db, resources.name, new Date(Date.now() - ctx.config.leaseSeconds * 1000).toISOString());
  if (sameName) {
    const ago = Math.max(0, Math.round((Date.now() - Date.parse(sameName.last_seen_at)) / 1000));
    throw conflict(`an agent named "${resources.name}" is already online (heard from ${ago} s ago): give this one another --name, or stop the other first`);
  }
  const agentToken = newSecret(AGENT_TOKEN_PREFIX);
  const agentId = randomId('a');
  await agentsRepo.insertAgent(ctx.db, { id: agentId, token_hash: digestToken(agentToken), created_at: now, paused: 0, removed: 0, set_labels: '{}', ...fields });
  return { agentId, agentToken };
}

/**
 * Known agents by token digest, so that the thousands of requests a second of a big farm do not each
 * read the agents table. An agent's credentials are never revoked or changed, only its name (when it
 * registers again, which evicts it here; other replicas see a new name within CACHE_MS). Unknown
 * tokens are never cached, so guessing fills nothing.
 */
const CACHE_MS = 60_000;
const CACHE_MAX = 100_000;
const principals = new WeakMap<ServiceContext, Map<string, { principal: AgentPrincipal; until: number }>>();

function principalCache(ctx: ServiceContext) {
  let cache = principals.get(ctx);
  if (!cache) principals.set(ctx, (cache = new Map()));
  return cache;
}

export async function authenticateAgent(ctx: ServiceContext, token: string): Promise<AgentPrincipal | null> {
  const digest = digestToken(token);
  const cache = principalCache(ctx);
  const hit = cache.get(digest);
  if (hit && hit.until > Date.now()) return hit.principal;
  const row = await agentsRepo.findAgentByTokenHash(ctx.db, digest);
  if (!row) return null;
  const principal: AgentPrincipal = { kind: 'agent', id: row.id, name: row.name, slots: row.slots, host: hostFactsOf(row) };
  cache.delete(digest);
  if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value!);
  cache.set(digest, { principal, until: Date.now() + CACHE_MS });
  return principal;
}

/**
 * Extends the leases the agent still holds and names the task attempts it must kill: those stopped
 * by a person, or whose lease it lost (they were requeued and may already run elsewhere, even as a
 * later attempt on this same agent, which is why an attempt and not a task is named).
 */
export type { TaskAttempt } from '../../wire/agents.js';

export async function heartbeat(
  ctx: ServiceContext,
  agent: AgentPrincipal,
  running: readonly (TaskAttempt & { uploading?: boolean })[],
  draining: boolean,
  jobsAsked: readonly string[] = [],
): Promise<{ cancel: TaskAttempt[]; endedJobs: string[] }> {
  const cancel: TaskAttempt[] = [];
  const nowUploading = new Set<string>();
  await transact(ctx.db, async (trx) => {
    await agentsRepo.touchAgent(trx, agent.id, nowIso(), draining ? 'draining' : 'online');
    // Set at a time, one read and one lease renewal for all its tasks: 10,000 agents beating every
    // few seconds with a running task and a few held made a read and a write each, and on
    // PostgreSQL (no group commit) those round trips held the pool the leases need.
    const ids = [...new Set(running.map((r) => r.taskId))];
    const found = new Map((ids.length > 0 ? await taskBatches.heldTasks(trx, ids) : []).map((t) => [t.id, t]));
    const renew = new Set<string>();
    for (const r of running) {
      const task = found.get(r.taskId);
      if (!task || task.status !== 'running' || task.agent_id !== agent.id || task.attempt !== r.attempt) {
        cancel.push({ taskId: r.taskId, attempt: r.attempt });
        continue;
      }
      renew.add(task.id);
      // The attempt stays leased (the task `running`); its status says its work is over.
      if (r.uploading && (await tasksRepo.markAttemptUploading(trx, task.id, r.attempt))) nowUploading.add(task.job_id);
    }
    if (renew.size > 0) await taskBatches.updateTasks(trx, [...renew], { lease_expires_at: isoIn(ctx.config.leaseSeconds) });
  });
  // Their counts changed (a task went from running to uploading): live views update at once.
  for (const jobId of nowUploading) ctx.bus.emit('job', jobId);
  if (nowUploading.size > 0) wakeForQuotas(ctx);
  // Ended or gone: either way nothing more of it will come to this agent (its warm sessions close).
  const statuses = await jobsRepo.jobStatuses(ctx.db, jobsAsked);
  const endedJobs = [...new Set(jobsAsked)].filter((id) => {
    const status = statuses.get(id);
    return status === undefined || isTerminalJob(status);
  });
  return { cancel, endedJobs };
}

/** `base` with `changes` applied: an empty value removes the label. */
export function mergeLabels(base: Readonly<Record<string, string>>, changes: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = { ...base };
  for (const [k, v] of Object.entries(changes)) {
    if (v === '') delete out[k];
    else out[k] = v;
  }
  return out;
}

/** After an agent's row changed from the coordinator: its next request reads it afresh. */
export function forgetAgentPrincipal(ctx: ServiceContext, tokenHash: string): void {
  principalCache(ctx).delete(tokenHash);
}
