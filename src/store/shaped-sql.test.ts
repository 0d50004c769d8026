import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DummyDriver, Kysely, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler, SqliteAdapter, SqliteIntrospector, SqliteQueryCompiler } from 'kysely';
import type { Database } from './schema.js';
import { columnsOf, runShaped } from './shaped-sql.js';

/** A Kysely of the dialect that runs nothing and keeps the text and parameters of what it was asked to run. */
function recordingDb(dialect: 'postgres' | 'sqlite') {
  const ran: { sql: string; parameters: readonly unknown[] }[] = [];
  const postgres = dialect === 'postgres';
  const db = new Kysely<Database>({
    dialect: {
      createAdapter: () => (postgres ? new PostgresAdapter() : new SqliteAdapter()),
      createDriver: () => new DummyDriver(),
      createIntrospector: (k) => (postgres ? new PostgresIntrospector(k) : new SqliteIntrospector(k)),
      createQueryCompiler: () => (postgres ? new PostgresQueryCompiler() : new SqliteQueryCompiler()),
    },
    log: (event) => {
      ran.push({ sql: event.query.sql, parameters: event.query.parameters });
    },
  });
  return { db, ran };
}

describe('shaped SQL', () => {
  for (const dialect of ['postgres', 'sqlite'] as const) {
    it(`runs the text ${dialect}'s own compiler made for a shape, built once and reused with new parameters`, async () => {
      const { db, ran } = recordingDb(dialect);
      let builds = 0;
      const run = (ids: string[], error: string) =>
        runShaped(
          db,
          `test finish ${dialect} ${ids.length}`,
          () => {
            builds++;
            return db.updateTable('task_attempts').set({ error }).where('task_id', 'in', ids);
          },
          [error, ...ids],
        );
      await run(['t1', 't2'], 'first');
      await run(['t3', 't4'], 'second');
      assert.equal(builds, 1);
      const expected = db.updateTable('task_attempts').set({ error: 'first' }).where('task_id', 'in', ['t1', 't2']).compile().sql;
      assert.equal(ran[0]!.sql, expected);
      assert.match(expected, dialect === 'postgres' ? /\$1.*\$2, \$3/ : /= \?.*\(\?, \?\)/);
      assert.equal(ran[1]!.sql, expected);
      assert.deepEqual(ran[1]!.parameters, ['second', 't3', 't4']);
    });
  }

  it('refuses a shape whose parameters bind in another order than the ones given', async () => {
    const { db, ran } = recordingDb('postgres');
    await assert.rejects(
      async () => runShaped(db, 'test swapped', () => db.updateTable('tasks').set({ error: 'e', message: 'm' }).where('id', '=', 't'), ['m', 'e', 't']),
      /shaped statement "test swapped": its parameter 1 is not the one given/,
    );
    await assert.rejects(async () => runShaped(db, 'test short', () => db.deleteFrom('task_files').where('task_id', 'in', ['a', 'b']), ['a']), /2 compiled, 1 given/);
    assert.equal(ran.length, 0);
  });

  it('picks the named columns of a row in the order named', () => {
    assert.deepEqual(Object.keys(columnsOf({ a: 1, b: 2, c: 3 }, ['c', 'a'])), ['c', 'a']);
  });
});
