// A user's named container images, and which image a new job runs in.
import { randomId } from '../../core/ids.js';
import { imageNameProblem, imageRefProblem } from '../../core/images.js';
import * as imagesRepo from '../../store/repositories/images.js';
import type { Db } from '../../store/schema.js';
import { badRequest, conflict, notFound } from '../errors.js';
import { type ServiceContext, nowIso } from './context.js';

export type { ImageView } from '../../wire/images.js';
import type { ImageView } from '../../wire/images.js';

export function imageView(row: imagesRepo.ImageRow): ImageView {
  return { name: row.name, ref: row.ref, default: row.is_default === 1, createdAt: row.created_at };
}

export async function listImages(ctx: ServiceContext, userId: string): Promise<ImageView[]> {
  return (await imagesRepo.listImages(ctx.db, userId)).map(imageView);
}

export async function addImage(ctx: ServiceContext, userId: string, req: { name: string; ref: string; default?: boolean }): Promise<ImageView> {
  const problem = imageNameProblem(req.name) ?? imageRefProblem(req.ref);
  if (problem) throw badRequest(problem);
  const row: imagesRepo.ImageRow = { id: randomId('i'), user_id: userId, name: req.name, ref: req.ref, is_default: req.default ? 1 : 0, created_at: nowIso() };
  await ctx.db.transaction().execute(async (trx) => {
    if (await imagesRepo.findImage(trx, userId, req.name)) throw conflict(`you already have an image named "${req.name}": remove it first to change it`);
    if (req.default) await imagesRepo.clearDefault(trx, userId);
    await imagesRepo.insertImage(trx, row);
  });
  return imageView(row);
}

export async function removeImage(ctx: ServiceContext, userId: string, name: string): Promise<void> {
  // Another user's image answers exactly like one that does not exist.
  if (!(await imagesRepo.deleteImage(ctx.db, userId, name))) throw notFound(`image "${name}"`);
}

/**
 * The image reference a new job runs in: one of the user's image names stands for its ref (names
 * win over a ref spelled the same), anything else is taken as a ref, and a job naming none gets the
 * user's default image, or none (a host task).
 */
export async function resolveJobImage(db: Db, userId: string, requested: string | undefined | null): Promise<string | null> {
  if (requested === undefined || requested === null || requested.trim() === '') {
    return (await imagesRepo.findDefaultImage(db, userId))?.ref ?? null;
  }
  const named = await imagesRepo.findImage(db, userId, requested);
  if (named) return named.ref;
  const problem = imageRefProblem(requested);
  if (problem) throw badRequest(`${problem}; nor is it one of your images (drover image list)`);
  return requested;
}
