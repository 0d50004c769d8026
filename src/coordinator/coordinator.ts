// Starts a coordinator: the store, the blob store, the admin account, the agent join token, the
// lease-expiry checker and the HTTP server. On PostgreSQL several of these replicas may share the
// store, the blob store (a shared directory or an S3 bucket) and the join token file; events then
// travel between them by NOTIFY.
import { chmod, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { type BlobStore, BlobStoreUnavailableError, DiskBlobStore, parseBlobsLocation } from '../store/blob-store.js';
import { isPostgresUrl, migrateToLatest, openDatabase } from '../store/database.js';
import { markSilentAgentsOffline } from '../store/repositories/agents.js';
import type { CoordinatorConfig } from './config.js';
import { EventBus } from './events.js';
import { ensureAdmin } from './services/accounts.js';
import { ensureJoinToken } from './services/agents.js';
import { type ServiceContext } from './services/context.js';
import { expireLeases } from './services/lease-expiry.js';
import { renewLeasesAfterRestart } from './services/restart-grace.js';
import { repairInterruptedBatches } from './services/large-jobs.js';
import { endJobsWithoutAgents } from './services/agent-choice.js';
import { advanceHeldJobs } from './services/dependencies.js';
import { buildServer } from './server.js';
import { startWebhookDelivery } from './services/webhook-delivery.js';
import { startHousekeeping } from './services/housekeeping.js';
import { enforceBudgets } from './services/quotas.js';

/** Connections the kernel queues for accept(): more than a big farm's agents connecting at once. */
const LISTEN_BACKLOG = 4096;

export interface RunningCoordinator {
  url: string;
  /** Where blobs are kept (a directory or s3://bucket/prefix), for the start message. */
  blobs: string;
  ctx: ServiceContext;
  joinToken: string;
  joinTokenPath: string;
  generatedAdminPassword?: string;
  close(): Promise<void>;
}

/** Opens the blob store `config.blobs` names; an S3 bucket must answer before the coordinator starts. */
/** How long requests under way may take to finish once the coordinator is asked to stop. */
const SHUTDOWN_GRACE_MS = 10_000;

async function openBlobStore(config: CoordinatorConfig): Promise<{ store: BlobStore; label: string; close(): void }> {
  let location;
  try {
    location = parseBlobsLocation(config.blobs ?? join(config.dataDir, 'blobs'));
  } catch (err) {
    throw new BlobStoreUnavailableError((err as Error).message);
  }
  if (location.kind === 'disk') {
    const disk = new DiskBlobStore(location.dir, config.minFreeBytes, !isPostgresUrl(config.database ?? ''));
    await disk.init();
    return { store: disk, label: location.dir, close() {} };
  }
  // Loaded only for S3, so disk farms and the CLI never load the AWS SDK.
  const { S3BlobStore, s3ClientFromEnv } = await import('../store/s3-blob-store.js');
  const { client, endpoint } = s3ClientFromEnv();
  const store = new S3BlobStore({
    location,
    client,
    spoolDir: join(config.dataDir, 'blob-spool'),
    minFreeBytes: config.minFreeBytes,
    presign: config.s3Presign,
    ...(endpoint ? { endpointLabel: endpoint } : {}),
  });
  try {
    await store.init();
  } catch (err) {
    client.destroy();
    throw err;
  }
  return { store, label: store.label, close: () => client.destroy() };
}

export async function startCoordinator(config: CoordinatorConfig): Promise<RunningCoordinator> {
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  // An older farm's data directory may be world-readable: the farm's data is its account's only.
  await chmod(config.dataDir, 0o700);
  // Before the database: a misconfigured blob store stops the start without touching anything.
  const blobStore = await openBlobStore(config);
  const blobs = blobStore.store;
  const handle = openDatabase(config.database ?? join(config.dataDir, 'drover.sqlite'));
  await migrateToLatest(handle.db);
  const bus = new EventBus();
  // Loaded only for PostgreSQL, so SQLite farms and the CLI never load the pg driver.
  const relay = handle.dialect === 'postgres' ? await (await import('./pg-events.js')).PgEventRelay.start({ url: handle.url!, pool: handle.pool!, bus, db: handle.db }) : null;
  const ctx: ServiceContext = { db: handle.db, blobs, bus, config };
  const admin = await ensureAdmin(ctx);
  const join_ = await ensureJoinToken(config.dataDir, config.joinTokenFile);
  const app = await buildServer(ctx, join_.token);
  await repairInterruptedBatches(ctx);
  // Agents could not renew their leases while the coordinator was down; hear from them before requeueing.
  const grace = await renewLeasesAfterRestart(ctx);
  if (grace.downtimeSeconds > ctx.config.leaseSeconds) {
    console.log(`[coordinator] no agent was heard from for ${Math.round(grace.downtimeSeconds)} s: running tasks get ${Math.round(grace.graceSeconds)} s to be heard from before they are requeued`);
  }

  const housekeeping = startHousekeeping(ctx);

  // The timeout checker: leases that ran out are requeued; silent agents are marked offline.
  let checking = false;
  const checker = setInterval(() => {
    if (checking) return;
    checking = true;
    void (async () => {
      try {
        await expireLeases(ctx);
        await markSilentAgentsOffline(ctx.db, new Date(Date.now() - config.leaseSeconds * 1000).toISOString());
        await endJobsWithoutAgents(ctx);
        await advanceHeldJobs(ctx);
        // Budgets set to `stop` are checked as often as leases: a spent one stops tasks within a second or so.
        await enforceBudgets(ctx);
      } catch (err) {
        console.error(`[coordinator] lease check failed: ${(err as Error).message}`);
      } finally {
        checking = false;
      }
    })();
  }, Math.min(1000, (config.leaseSeconds * 1000) / 4));

  // A farm's agents all connect at once after a coordinator restart or a job start; Node's default
  // accept queue (511) overflowed with 1,000 agents, and each dropped SYN cost its agent a 1-3 s
  // TCP retry. The kernel caps the backlog at net.core.somaxconn.
  const webhooks = startWebhookDelivery(ctx);
  const address = await app.listen({ host: config.host, port: config.port, backlog: LISTEN_BACKLOG });
  return {
    url: address.replace('[::1]', '127.0.0.1'),
    blobs: blobStore.label,
    ctx,
    joinToken: join_.token,
    joinTokenPath: join_.path,
    ...(admin.generatedPassword ? { generatedAdminPassword: admin.generatedPassword } : {}),
    async close() {
      clearInterval(checker);
      await webhooks.stop();
      housekeeping.stop();
      // Requests under way get a few seconds to finish; then their connections are cut. A client
      // whose request never ends (an upload whose body stopped coming through a proxy) kept the
      // coordinator from ever stopping: Fastify waits for every request, and sets no time limit.
      const cut = setTimeout(() => app.server.closeAllConnections(), SHUTDOWN_GRACE_MS);
      await app.close();
      clearTimeout(cut);
      await relay?.close();
      await handle.close();
      blobStore.close();
    },
  };
}
