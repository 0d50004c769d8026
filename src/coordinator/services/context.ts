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

let lastStamp = 0;
/**
 * Like nowIso, but strictly later than the previous stamp this process gave: jobs created in the
 * same millisecond still list newest first and are leased first-come, first-served.
 */
export function orderedNowIso(): string {
  lastStamp = Math.max(Date.now(), lastStamp + 1);
  return new Date(lastStamp).toISOString();
}
