// Reads that scan a huge job (its million task rows counted by status, its frames, its attempts'
// times) run on a second SQLite connection in a worker thread. better-sqlite3 answers on the
// calling thread, so on the coordinator's connection such a read held the event loop for 0.3–2 s:
// the view of a 1,000,000-task job stalled every other request for that long (bench/huge-job.ts).
// In WAL mode the worker's connection reads the last committed state while the coordinator goes on
// writing. Only reads that callers mark as big go there: small ones stay on the main connection,
// where they cost microseconds and would only queue behind a big one in the worker.
// PostgreSQL needs none of this: its driver never blocks the event loop.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { Compilable, Kysely } from 'kysely';

/**
 * The worker's code, plain CommonJS evaluated as is: no file to find beside a bundle or the
 * sources. It opens the same database file read-only (`query_only`) and runs what it is sent.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const SQLite = require(workerData.driver);
const db = new SQLite(workerData.path, { fileMustExist: true });
db.pragma('busy_timeout = 5000');
db.pragma('cache_size = -16384');
db.pragma('query_only = ON');
const statements = new Map();
parentPort.on('message', ({ id, sql, parameters }) => {
  try {
    let stmt = statements.get(sql);
    if (!stmt) {
      stmt = db.prepare(sql);
      if (statements.size > 200) statements.clear();
      statements.set(sql, stmt);
    }
    parentPort.postMessage({ id, rows: stmt.all(...parameters) });
  } catch (err) {
    parentPort.postMessage({ id, error: String(err && err.message || err) });
  }
});
`;

interface Pending {
  resolve: (rows: unknown[]) => void;
  reject: (err: Error) => void;
}

/** One worker thread with its own read-only connection to a SQLite file. */
class OffThreadReader {
  private worker: Worker | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  /** Failures since the last answer: a worker that cannot even start is given up after a few. */
  private failures = 0;

  constructor(private readonly path: string) {}

  /** False once the worker failed again and again without answering: big reads then stay on the main connection. */
  get usable(): boolean {
    return this.failures < 3;
  }

  rows(sql: string, parameters: readonly unknown[]): Promise<unknown[]> {
    const worker = this.started();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      // Kept alive only while it has work: an idle reader never holds the process open.
      if (this.pending.size === 1) worker.ref();
      worker.postMessage({ id, sql, parameters });
    });
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    for (const p of this.pending.values()) p.reject(new Error('the store was closed'));
    this.pending.clear();
    if (worker) await worker.terminate();
  }

  private started(): Worker {
    if (this.worker) return this.worker;
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { path: this.path, driver } });
    worker.unref();
    worker.on('message', (m: { id: number; rows?: unknown[]; error?: string }) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (this.pending.size === 0) worker.unref();
      if (m.error !== undefined) p.reject(new Error(m.error));
      else {
        this.failures = 0;
        p.resolve(m.rows ?? []);
      }
    });
    const failAll = (err: Error) => {
      if (this.worker !== worker) return;
      this.worker = null; // the next read starts a new one
      this.failures++;
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
    worker.on('error', failAll);
    worker.on('exit', (code) => failAll(new Error(`the read worker exited (code ${code})`)));
    this.worker = worker;
    return worker;
  }
}

/** From this many tasks a job's whole-job reads go off the event loop (20,000 rows scan in about 10 ms). */
export const BIG_JOB_TASKS = 20_000;
export const isBigJob = (job: { task_count: number }): boolean => job.task_count >= BIG_JOB_TASKS;

const readers = new WeakMap<object, OffThreadReader>();

/** Gives `db` (a SQLite database on disk) a reader for big reads; returns what closes it. */
export function attachOffThreadReader(db: Kysely<never> | object, path: string): () => Promise<void> {
  const reader = new OffThreadReader(path);
  readers.set(db, reader);
  return () => reader.close();
}

/**
 * Runs a read query, off the event loop when `big` and `db` has a reader (SQLite on disk, outside
 * a transaction, which must see its own writes), on `db` otherwise. Should the worker fail, the
 * query runs on `db` as before: a big read is slow then, never wrong.
 */
export async function readRows<R>(db: { executeQuery: Kysely<never>['executeQuery'] }, query: Compilable<R>, big: boolean): Promise<R[]> {
  const reader = big ? readers.get(db) : undefined;
  const compiled = query.compile();
  if (reader?.usable) {
    try {
      return (await reader.rows(compiled.sql, compiled.parameters)) as R[];
    } catch (err) {
      console.error(`[store] a big read fell back to the main connection: ${(err as Error).message}`);
    }
  }
  return (await db.executeQuery(compiled)).rows as R[];
}
