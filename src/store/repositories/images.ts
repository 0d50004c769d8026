// A user's named container images.
import type { Db, ImagesTable } from '../schema.js';

export type ImageRow = ImagesTable;

export function listImages(db: Db, userId: string) {
  return db.selectFrom('images').selectAll().where('user_id', '=', userId).orderBy('name').execute();
}

export function findImage(db: Db, userId: string, name: string) {
  return db.selectFrom('images').selectAll().where('user_id', '=', userId).where('name', '=', name).executeTakeFirst();
}

export function findDefaultImage(db: Db, userId: string) {
  return db.selectFrom('images').selectAll().where('user_id', '=', userId).where('is_default', '=', 1).executeTakeFirst();
}

export async function insertImage(db: Db, row: ImageRow): Promise<void> {
  await db.insertInto('images').values(row).execute();
}

/** A user has at most one default image. */
export async function clearDefault(db: Db, userId: string): Promise<void> {
  await db.updateTable('images').set({ is_default: 0 }).where('user_id', '=', userId).where('is_default', '=', 1).execute();
}

export async function deleteImage(db: Db, userId: string, name: string): Promise<boolean> {
  const result = await db.deleteFrom('images').where('user_id', '=', userId).where('name', '=', name).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}
