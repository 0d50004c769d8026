// What every coordinator service works with.
import type { Kysely } from 'kysely';
import type { BlobStore } from '../../store/blob-store.js';
import type { Database } from '../../store/schema.js';
import type { CoordinatorConfig } from '../config.js';
import type { EventBus } from '../events.js';

export interface ServiceContext {
  db: Kysely<Database>;
  blobs: BlobStore;
  bus: EventBus;
  config: CoordinatorConfig;
}

export const nowIso = (): string => new Date().toISOString();
export const isoIn = (seconds: number): string => new Date(Date.now() + seconds * 1000).toISOString();
