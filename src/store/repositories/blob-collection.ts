// What blob collection asks the store: which blobs nothing refers to any more, removing their
// records one at a time under the same test, claims (uploads about to be used), bytes per user.
import { sql, type RawBuilder } from 'kysely';
import type { Db } from '../schema.js';
import { inLists, insertBatches } from '../statement-shapes.js';
import type { UserStorage } from '../../wire/storage.js';

/**
 * True for a blob (`blobs` row in scope) no job refers to (job spec, task input, result file, frame,
 * thumbnail, preview) and nobody claimed since `cutoff`, itself stored before `cutoff`. Job specs
 * name their files (script, constants, project, template attachments) by sha256 inside their JSON.
 */
function unreferenced(cutoff: string, withSpecs: boolean): RawBuilder<boolean> {
  return sql<boolean>`blobs.created_at < ${cutoff}
    and not exists (select 1 from blob_claims c where c.sha256 = blobs.sha256 and c.claimed_at >= ${cutoff})
    and not exists (select 1 from task_files f where f.sha256 = blobs.sha256)
    and not exists (select 1 from tasks t where t.input_sha = blobs.sha256)
    and not exists (select 1 from frames fr where fr.sha256 = blobs.sha256)
    and not exists (select 1 from frames ft where ft.thumb_sha = blobs.sha256)
    and not exists (select 1 from frames fp where fp.preview_sha = blobs.sha256)
    and not exists (select 1 from job_previews p where p.sha256 = blobs.sha256)
    ${withSpecs ? sql`and not exists (select 1 from jobs j where j.spec like '%' || blobs.sha256 || '%')` : sql``}`;
}

/** Up to `limit` blobs collection may remove (job specs are checked per blob when removing). */
export function collectableBlobs(db: Db, cutoff: string, limit: number, after = '') {
  return db.selectFrom('blobs').select(['sha256', 'size']).where('sha256', '>', after).where(unreferenced(cutoff, false)).orderBy('sha256').limit(limit).execute();
}

/** Every sha256 the job specs name: a set to test candidates against without a scan per blob. */
export async function shasInJobSpecs(db: Db): Promise<Set<string>> {
  const found = new Set<string>();
  let after = '';
  for (;;) {
    const rows = await db.selectFrom('jobs').select(['id', 'spec']).where('id', '>', after).orderBy('id').limit(1000).execute();
    for (const r of rows) for (const m of r.spec.matchAll(/[0-9a-f]{64}/g)) found.add(m[0]);
    if (rows.length < 1000) return found;
    after = rows[rows.length - 1]!.id;
  }
}

/**
 * Removes the blob's record and its owners if, at this moment, nothing refers to it and nobody
 * claimed it since `cutoff`; true when removed (its bytes are then the caller's to delete). One
 * statement decides: replicas collecting at once never both remove, nor remove a blob a job has
 * just come to use.
 */
export async function removeIfUnreferenced(db: Db, sha256: string, cutoff: string): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const result = await trx.deleteFrom('blobs').where('sha256', '=', sha256).where(unreferenced(cutoff, true)).executeTakeFirst();
    if (Number(result.numDeletedRows) === 0) return false;
    await trx.deleteFrom('blob_owners').where('sha256', '=', sha256).execute();
    return true;
  });
}

/** Says `hashes` are about to be used (asked about, being uploaded): collection spares them for the grace period. */
export async function claimBlobs(db: Db, hashes: readonly string[], now: string): Promise<void> {
  // insertBatches, not inLists: a padded list repeats a hash, and PostgreSQL refuses an upsert
  // that touches one row twice.
  for (const part of insertBatches([...new Set(hashes)])) {
    await db
      .insertInto('blob_claims')
      .values(part.map((sha256) => ({ sha256, claimed_at: now })))
      .onConflict((oc) => oc.column('sha256').doUpdateSet({ claimed_at: now }))
      .execute();
  }
}

/** Claims older than `cutoff` protect nothing any more. */
export async function pruneClaims(db: Db, cutoff: string): Promise<void> {
  await db.deleteFrom('blob_claims').where('claimed_at', '<', cutoff).execute();
}

/** Which of `hashes` have a record (the sweep of unrecorded files asks). */
export async function recordedBlobs(db: Db, hashes: readonly string[]): Promise<Set<string>> {
  const known = new Set<string>();
  for (const part of inLists(hashes)) for (const r of await db.selectFrom('blobs').select('sha256').where('sha256', 'in', part).execute()) known.add(r.sha256);
  return known;
}

export async function claimedSince(db: Db, hashes: readonly string[], cutoff: string): Promise<Set<string>> {
  const claimed = new Set<string>();
  for (const part of inLists(hashes)) {
    for (const r of await db.selectFrom('blob_claims').select('sha256').where('sha256', 'in', part).where('claimed_at', '>=', cutoff).execute()) claimed.add(r.sha256);
  }
  return claimed;
}

export type { UserStorage } from '../../wire/storage.js';

/** Bytes per user: a blob two users use counts for each of them (the farm keeps it once). */
export async function storageByUser(db: Db): Promise<UserStorage[]> {
  const { rows } = await sql<{ user_id: string; name: string; blobs: number | string; bytes: number | string | null }>`
    select u.id as user_id, u.name as name, count(b.sha256) as blobs, sum(b.size) as bytes
    from users u
    left join (
      select j.user_id as user_id, f.sha256 as sha256 from task_files f join tasks t on t.id = f.task_id join jobs j on j.id = t.job_id
      union select j.user_id, t.input_sha from tasks t join jobs j on j.id = t.job_id where t.input_sha is not null
      union select j.user_id, fr.sha256 from frames fr join jobs j on j.id = fr.job_id where fr.sha256 is not null
      union select j.user_id, fr.thumb_sha from frames fr join jobs j on j.id = fr.job_id where fr.thumb_sha is not null
      union select j.user_id, fr.preview_sha from frames fr join jobs j on j.id = fr.job_id where fr.preview_sha is not null
      union select j.user_id, p.sha256 from job_previews p join jobs j on j.id = p.job_id where p.sha256 is not null
      union select o.user_id, o.sha256 from blob_owners o
    ) used on used.user_id = u.id
    left join blobs b on b.sha256 = used.sha256
    group by u.id, u.name
    order by u.name`.execute(db);
  const jobs = await db
    .selectFrom('jobs')
    .select(['user_id', (eb) => eb.fn.countAll<number>().as('n'), (eb) => eb.fn.count<number>('archived_at').as('archived')])
    .groupBy('user_id')
    .execute();
  const byUser = new Map(jobs.map((j) => [j.user_id, j]));
  return rows.map((r) => ({
    user: r.name,
    jobs: Number(byUser.get(r.user_id)?.n ?? 0),
    archivedJobs: Number(byUser.get(r.user_id)?.archived ?? 0),
    bytes: Number(r.bytes ?? 0),
    blobs: Number(r.blobs),
  }));
}

export async function blobTotals(db: Db): Promise<{ blobs: number; bytes: number }> {
  const row = await db.selectFrom('blobs').select([(eb) => eb.fn.countAll<number>().as('n'), (eb) => eb.fn.sum<number>('size').as('bytes')]).executeTakeFirstOrThrow();
  return { blobs: Number(row.n), bytes: Number(row.bytes ?? 0) };
}
