// A throwaway PostgreSQL 15 for tests: a fresh cluster in a temporary directory, run as the
// `postgres` user when we are root (the server refuses to run as root), on a free port, with trust auth for
// 127.0.0.1 only. `stop()` kills it and deletes the cluster.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);

export const PG_BIN = process.env.DROVER_PG_BIN ?? '/usr/lib/postgresql/15/bin';

/** Why PostgreSQL tests cannot run here, or null when they can. */
export function postgresUnavailable(): string | null {
  for (const tool of ['initdb', 'postgres']) {
    if (!existsSync(join(PG_BIN, tool))) return `PostgreSQL server binaries not found in ${PG_BIN} (set DROVER_PG_BIN): skipping`;
  }
  return null;
}

export interface TestPostgres {
  /** postgres://postgres@127.0.0.1:PORT/drover_test */
  url: string;
  port: number;
  /** A URL for another database on the same server, created on demand. */
  createDatabase(name: string): Promise<string>;
  stop(): Promise<void>;
}

/** A TCP port nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

async function postgresIds(): Promise<{ uid: number; gid: number }> {
  const [uid, gid] = await Promise.all([run('id', ['-u', 'postgres']), run('id', ['-g', 'postgres'])]);
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

/** Spawn options that run a command as `postgres` when we are root (the server refuses root). */
async function asPostgres(): Promise<{ uid?: number; gid?: number }> {
  return process.getuid?.() === 0 ? postgresIds() : {};
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of live) p.kill('SIGKILL');
});

export async function startPostgres(): Promise<TestPostgres> {
  const unavailable = postgresUnavailable();
  if (unavailable) throw new Error(unavailable);
  const root = await mkdtemp(join(tmpdir(), 'drover-pg-'));
  const dataDir = join(root, 'data');
  const sockDir = join(root, 'sock');
  await mkdir(dataDir);
  await mkdir(sockDir);
  const ids = await asPostgres();
  if (ids.uid !== undefined) for (const d of [root, dataDir, sockDir]) await chown(d, ids.uid, ids.gid!);
  await chmod(root, 0o755);
  await chmod(dataDir, 0o700);
  // C collation: ISO times and ids compare byte by byte, as on SQLite.
  await run(join(PG_BIN, 'initdb'), ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--locale=C', '--no-sync'], { ...ids, cwd: root });

  let proc: ChildProcess | undefined;
  let port = 0;
  let output = '';
  for (let tries = 0; tries < 5 && !proc; tries++) {
    port = await freePort();
    // fsync off: a test cluster need not survive a power cut, and it is much faster without.
    const args = ['-D', dataDir, '-p', String(port), '-k', sockDir, '-h', '127.0.0.1', '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'max_connections=200'];
    const child = spawn(join(PG_BIN, 'postgres'), args, { ...ids, cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(child);
    output = '';
    child.stdout!.on('data', (d: Buffer) => (output += d));
    child.stderr!.on('data', (d: Buffer) => (output += d));
    if (await waitReady(port, child)) proc = child;
    else {
      child.kill('SIGKILL');
      live.delete(child);
    }
  }
  if (!proc) {
    await rm(root, { recursive: true, force: true });
    throw new Error(`PostgreSQL did not start:\n${output}`);
  }
  const server = proc;
  const urlOf = (db: string) => `postgres://postgres@127.0.0.1:${port}/${db}`;
  const admin = async <T>(fn: (c: pg.Client) => Promise<T>): Promise<T> => {
    const client = new pg.Client({ connectionString: urlOf('postgres') });
    await client.connect();
    try {
      return await fn(client);
    } finally {
      await client.end();
    }
  };
  const createDatabase = async (name: string) => {
    if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`bad database name ${name}`);
    await admin((c) => c.query(`create database ${name}`));
    return urlOf(name);
  };
  const url = await createDatabase('drover_test');
  return {
    url,
    port,
    createDatabase,
    async stop() {
      if (server.exitCode === null && server.signalCode === null) {
        const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));
        // SIGQUIT: immediate shutdown; the cluster is thrown away anyway.
        server.kill('SIGQUIT');
        const timer = setTimeout(() => server.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }
      live.delete(server);
      await rm(root, { recursive: true, force: true });
    },
  };
}

async function waitReady(port: number, child: ChildProcess): Promise<boolean> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) return false;
    const client = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${port}/postgres`, connectionTimeoutMillis: 1000 });
    try {
      await client.connect();
      await client.end();
      return true;
    } catch {
      await client.end().catch(() => {});
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return false;
}
