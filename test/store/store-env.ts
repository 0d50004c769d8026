// What the store suites share: a fresh, migrated store per test on SQLite or PostgreSQL, with the
// real services on a real ServiceContext, and helpers to make jobs, agents and results.
import { after, beforeEach, describe } from 'node:test';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { coordinatorConfig } from '../../src/coordinator/config.js';
import { EventBus } from '../../src/coordinator/events.js';
import { HttpError } from '../../src/coordinator/errors.js';
import { createUser, type UserPrincipal } from '../../src/coordinator/services/accounts.js';
import { registerAgent, type AgentPrincipal } from '../../src/coordinator/services/agents.js';
import type { JobRequirements } from '../../src/core/job-requirements.js';
import type { ServiceContext } from '../../src/coordinator/services/context.js';
import { createScriptJob } from '../../src/coordinator/services/jobs.js';
import type { LeasedTask } from '../../src/coordinator/services/leasing.js';
import { DiskBlobStore } from '../../src/store/blob-store.js';
import { migrateToLatest, type DatabaseHandle } from '../../src/store/database.js';
import * as blobsRepo from '../../src/store/repositories/blobs.js';
import * as jobsRepo from '../../src/store/repositories/jobs.js';

export interface StoreUnderTest {
  dialect: 'sqlite' | 'postgres';
  /** A fresh, empty store (not yet migrated) and how to throw it away. */
  open(): Promise<{ handle: DatabaseHandle; dispose(): Promise<void> }>;
  /** Why the suite cannot run here (it is then skipped with this message). */
  skip?: string;
}

export const JOIN = 'drv_join_test';
export const sha = (text: string) => createHash('sha256').update(text).digest('hex');
export const OUT = { sha256: sha('stdout'), size: 6 };
export const ERR = { sha256: sha('stderr'), size: 6 };

export interface Env {
  ctx: ServiceContext;
  handle: DatabaseHandle;
  events: { type: string; args: unknown[] }[];
  user: UserPrincipal;
  dispose(): Promise<void>;
}

async function newEnv(store: StoreUnderTest): Promise<Env> {
  const { handle, dispose } = await store.open();
  await migrateToLatest(handle.db);
  const dir = await mkdtemp(join(tmpdir(), 'drover-store-'));
  const blobs = new DiskBlobStore(join(dir, 'blobs'));
  await blobs.init();
  const bus = new EventBus();
  const events: Env['events'] = [];
  for (const type of ['job', 'task', 'log', 'work'] as const) bus.on(type, (...args: unknown[]) => events.push({ type, args }));
  const config = coordinatorConfig({ dataDir: dir, leaseSeconds: 30, instanceCores: { s: 1, m: 2, l: 4, xl: 8, gpu: 2 }, adminPassword: 'admin-pw', logLimitBytes: 1000 });
  const ctx: ServiceContext = { db: handle.db, blobs, bus, config };
  const view = await createUser(ctx, 'alice', 'alice-pw', false);
  const user: UserPrincipal = { kind: 'user', id: view.id, name: view.name, admin: false, tokenId: 'k_test', tokenName: null };
  for (const s of [OUT, ERR]) await blobsRepo.recordBlob(ctx.db, s.sha256, s.size, new Date().toISOString());
  return {
    ctx,
    handle,
    events,
    user,
    async dispose() {
      await handle.close();
      await dispose();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** An agent of `slots` cores and 8 GiB; `facts` gives it GPUs and labels. */
export async function addAgent(ctx: ServiceContext, name: string, slots = 4, facts: { gpus?: number; labels?: Record<string, string> } = {}): Promise<AgentPrincipal> {
  const labels = facts.labels ?? {};
  const gpus = facts.gpus ?? 0;
  const { agentId } = await registerAgent(ctx, JOIN, JOIN, {
    name,
    cores: slots,
    memoryBytes: 8 * 1024 ** 3,
    labels,
    slots,
    sandbox: false,
    version: 'test',
    ...(gpus > 0 ? { attributes: { os: 'linux', arch: 'x86_64', gpus } } : {}),
  });
  return { kind: 'agent', id: agentId, name, slots, host: { cores: slots, memoryMiB: 8192, gpus, os: 'linux', arch: 'x86_64', labels } };
}

/** A started script job of `tasks` tasks whose files the user owns. */
export async function scriptJob(env: Env, name: string, tasks: number, opts: { instanceType?: 's' | 'm' | 'l' | 'xl'; maxAttempts?: number; start?: boolean; priority?: number; requirements?: JobRequirements } = {}): Promise<string> {
  const script = { name: 'run.py', sha256: sha(`script ${name}`) };
  const inputs = Array.from({ length: tasks }, (_, i) => ({ name: `in_${i + 1}.txt`, sha256: sha(`input ${name} ${i}`) }));
  for (const f of [script, ...inputs]) {
    await blobsRepo.recordBlob(env.ctx.db, f.sha256, 1, new Date().toISOString());
    await blobsRepo.recordBlobOwner(env.ctx.db, env.user.id, f.sha256);
  }
  return createScriptJob(env.ctx, env.user, {
    kind: 'script',
    name,
    script,
    inputs,
    ...(opts.instanceType ? { instanceType: opts.instanceType } : {}),
    maxAttempts: opts.maxAttempts ?? 3,
    start: opts.start ?? true,
    ...(opts.priority !== undefined ? { priority: opts.priority } : {}),
    ...(opts.requirements ? { requirements: opts.requirements } : {}),
  });
}

export const done = (t: LeasedTask) => ({ attempt: t.attempt, exitCode: 0, files: [], stdout: OUT, stderr: ERR });
export const failed = (t: LeasedTask) => ({ attempt: t.attempt, exitCode: 1, files: [], stdout: OUT, stderr: ERR });

export async function jobStatus(env: Env, id: string): Promise<string> {
  return (await jobsRepo.findJob(env.ctx.db, id))!.status;
}

export async function isLeaseLost(p: Promise<unknown>): Promise<boolean> {
  try {
    await p;
    return false;
  } catch (err) {
    if (err instanceof HttpError && err.status === 409) return true;
    throw err;
  }
}

/**
 * A describe block on `store` whose tests each get a fresh, migrated store: `env` is one object,
 * refilled before each test (and the previous store thrown away).
 */
export function describeStore(store: StoreUnderTest, title: string, body: (env: Env) => void): void {
  describe(`${title} on ${store.dialect}`, { timeout: 120_000, ...(store.skip ? { skip: store.skip } : {}) }, () => {
    const env = {} as Env;
    beforeEach(async () => {
      await env.dispose?.();
      Object.assign(env, await newEnv(store));
    });
    after(async () => env.dispose?.());
    body(env);
  });
}
