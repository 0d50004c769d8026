// Starts a coordinator: the store, the blob store, the admin account, the agent join token, the
// lease-expiry checker and the HTTP server.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DiskBlobStore } from '../store/blob-store.js';
import { migrateToLatest, openSqlite } from '../store/database.js';
import { markSilentAgentsOffline } from '../store/repositories/agents.js';
import type { CoordinatorConfig } from './config.js';
import { EventBus } from './events.js';
import { ensureAdmin } from './services/accounts.js';
import { ensureJoinToken } from './services/agents.js';
import { type ServiceContext } from './services/context.js';
import { expireLeases } from './services/leasing.js';
import { buildServer } from './server.js';

export interface RunningCoordinator {
  url: string;
  ctx: ServiceContext;
  joinToken: string;
  joinTokenPath: string;
  generatedAdminPassword?: string;
  close(): Promise<void>;
}

export async function startCoordinator(config: CoordinatorConfig): Promise<RunningCoordinator> {
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  const handle = openSqlite(join(config.dataDir, 'drover.sqlite'));
  await migrateToLatest(handle.db);
  const blobs = new DiskBlobStore(join(config.dataDir, 'blobs'));
  await blobs.init();
  const ctx: ServiceContext = { db: handle.db, blobs, bus: new EventBus(), config };
  const admin = await ensureAdmin(ctx);
  const join_ = await ensureJoinToken(config.dataDir);
  const app = await buildServer(ctx, join_.token);

  // The timeout checker: leases that ran out are requeued; silent agents are marked offline.
  let checking = false;
  const checker = setInterval(() => {
    if (checking) return;
    checking = true;
    void (async () => {
      try {
        await expireLeases(ctx);
        await markSilentAgentsOffline(ctx.db, new Date(Date.now() - config.leaseSeconds * 1000).toISOString());
      } catch (err) {
        console.error(`[coordinator] lease check failed: ${(err as Error).message}`);
      } finally {
        checking = false;
      }
    })();
  }, Math.min(1000, (config.leaseSeconds * 1000) / 4));

  const address = await app.listen({ host: config.host, port: config.port });
  return {
    url: address.replace('[::1]', '127.0.0.1'),
    ctx,
    joinToken: join_.token,
    joinTokenPath: join_.path,
    ...(admin.generatedPassword ? { generatedAdminPassword: admin.generatedPassword } : {}),
    async close() {
      clearInterval(checker);
      await app.close();
      await handle.close();
    },
  };
}
