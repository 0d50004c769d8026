// Group commit on SQLite: the transactions asked for in one turn of the event loop (a burst of agent
// requests) run one after another inside a single database transaction, each in its own savepoint,
// and commit once. A commit writes every page the transaction touched to the WAL; a thousand agents
// reporting at once touch the same index and job pages, so one commit for many of them writes those
// pages once instead of once each. PostgreSQL runs each transaction on its own (it has a pool and
// commits concurrently).
import { type Kysely, type Transaction, sql } from 'kysely';
import { isPostgres } from './dialect.js';
import type { Database } from './schema.js';

type Work<T> = (trx: Transaction<Database>) => Promise<T>;

interface Queued {
  work: Work<unknown>;
  resolve(value: unknown): void;
  reject(err: unknown): void;
}

/** At most this many transactions share a commit, so one burst cannot hold the writer for long. */
const MAX_GROUP = 64;

class GroupCommitter {
  private queue: Queued[] = [];
  private scheduled = false;

  constructor(private readonly db: Kysely<Database>) {}

  run<T>(work: Work<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ work: work as Work<unknown>, resolve: resolve as (v: unknown) => void, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.queue.length === 0) return;
    this.scheduled = true;
    // After the I/O phase: every request read in this turn has queued its transaction by then.
    setImmediate(() => void this.flush());
  }

  private async flush(): Promise<void> {
    const group = this.queue.splice(0, MAX_GROUP);
    // Callers learn their outcome only once the commit is done: before, nothing of theirs is durable.
    const outcomes: (() => void)[] = [];
    // An error that took the whole transaction with it (SQLite may roll everything back on
    // SQLITE_FULL): every caller learns that error, not the failed rollback that follows it.
    let fatal = null as { error: unknown } | null;
    try {
      await this.db.transaction().execute(async (trx) => {
        for (const item of group) {
          await sql`savepoint drover_group`.execute(trx);
          try {
            const value = await item.work(trx);
            await sql`release drover_group`.execute(trx);
            outcomes.push(() => item.resolve(value));
          } catch (err) {
            // Undo this one's writes only; the others in the group keep theirs.
            try {
              await sql`rollback to drover_group`.execute(trx);
              await sql`release drover_group`.execute(trx);
            } catch {
              fatal = { error: err };
              throw err;
            }
            outcomes.push(() => item.reject(err));
          }
        }
      });
      for (const settle of outcomes) settle();
    } catch (err) {
      // The commit itself failed (e.g. the disk is full): no transaction of the group stands.
      for (const item of group) item.reject(fatal ? fatal.error : err);
    } finally {
      this.scheduled = false;
      this.schedule();
    }
  }
}

const committers = new WeakMap<Kysely<Database>, GroupCommitter>();

/**
 * Runs `work` in a transaction, as `db.transaction().execute(work)` does; on SQLite it may share the
 * commit with others asked for at the same time. `work` must use only `trx` (on SQLite anything
 * else waits for the connection `trx` holds) and must not wait on other transactions.
 */
export function transact<T>(db: Kysely<Database>, work: Work<T>): Promise<T> {
  if (isPostgres(db)) return db.transaction().execute(work);
  let committer = committers.get(db);
  if (!committer) committers.set(db, (committer = new GroupCommitter(db)));
  return committer.run(work);
}
