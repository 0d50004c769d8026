import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DatabaseHandle, migrateToLatest, openSqlite } from './database.js';
import { transact } from './group-commit.js';

let dir: string;
let handle: DatabaseHandle;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'drover-group-'));
  handle = openSqlite(join(dir, 'db.sqlite'));
  await migrateToLatest(handle.db);
});
after(async () => {
  await handle.close();
  await rm(dir, { recursive: true, force: true });
});

const user = (name: string) => ({ id: `u-${name}`, name, password_hash: 'x', is_admin: 0, created_at: new Date().toISOString() });
const names = async () => (await handle.db.selectFrom('users').select('name').orderBy('name').execute()).map((r) => r.name);

test('transactions asked for together each keep their own outcome: a failing one is undone, the others stand', async () => {
  const db = handle.db;
  const outcomes = await Promise.allSettled([
    transact(db, async (trx) => {
      await trx.insertInto('users').values(user('ann')).execute();
      return 'ann';
    }),
    transact(db, async (trx) => {
      await trx.insertInto('users').values(user('bob')).execute();
      throw new Error('bob changed his mind');
    }),
    // Sees the writes of those before it in the group, as if they had committed already.
    transact(db, async (trx) => (await trx.selectFrom('users').select('name').where('name', '=', 'ann').execute()).length),
    // A constraint violation rolls back only its own statements.
    transact(db, async (trx) => {
      await trx.insertInto('users').values(user('cid')).execute();
      await trx.insertInto('users').values(user('cid')).execute();
    }),
  ]);
  assert.deepEqual(outcomes[0], { status: 'fulfilled', value: 'ann' });
  assert.equal(outcomes[1].status, 'rejected');
  assert.match(String((outcomes[1] as PromiseRejectedResult).reason), /changed his mind/);
  assert.deepEqual(outcomes[2], { status: 'fulfilled', value: 1 });
  assert.equal(outcomes[3].status, 'rejected');
  assert.deepEqual(await names(), ['ann']);
});

test('many at once all commit, and each answer comes after its work is stored', async () => {
  const db = handle.db;
  const many = Array.from({ length: 150 }, (_, i) => `user${String(i).padStart(3, '0')}`);
  await Promise.all(
    many.map(async (name) => {
      await transact(db, (trx) => trx.insertInto('users').values(user(name)).execute());
      // Read outside any transaction: the write is already committed when the promise settles.
      const row = await db.selectFrom('users').select('name').where('name', '=', name).executeTakeFirst();
      assert.equal(row?.name, name);
    }),
  );
  assert.equal((await names()).length, 151);
});
