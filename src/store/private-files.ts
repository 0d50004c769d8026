// The store's files are the farm's data (every user's inputs and results, password hashes, token
// digests): readable by the coordinator's own account only. New files are made 0600 and folders
// 0700; files of an older farm, made world-readable, are fixed at start.
import { chmodSync, closeSync, existsSync, openSync } from 'node:fs';
import { chmod, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const PRIVATE_FILE = 0o600;
export const PRIVATE_DIR = 0o700;

/** Creates the SQLite file 0600 before SQLite does (it would use the umask, usually 0644). */
export function createPrivateFileSync(path: string): void {
  if (!existsSync(path)) closeSync(openSync(path, 'a', PRIVATE_FILE));
}

/** Makes the SQLite database and its WAL and shared-memory files 0600 (those that exist). */
export function restrictSqliteFilesSync(path: string): void {
  for (const p of [path, `${path}-wal`, `${path}-shm`, `${path}-journal`]) {
    try {
      chmodSync(p, PRIVATE_FILE);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
}

/** The marker a finished walk leaves, so a large blob store is walked once, not at every start. */
const WALKED = '.private-modes';

/**
 * Makes every folder under `root` 0700 and every file 0600, once: the root itself is fixed by the
 * caller first (and is enough to keep others out), so this walk may run in the background.
 */
export async function restrictTreeOnce(root: string): Promise<void> {
  if (existsSync(join(root, WALKED))) return;
  await restrictTree(root);
  await writeFile(join(root, WALKED), 'every file under this folder was made readable by its owner only\n', { mode: PRIVATE_FILE });
}

async function restrictTree(dir: string): Promise<void> {
  await chmod(dir, PRIVATE_DIR);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    try {
      if (entry.isDirectory()) await restrictTree(path);
      else if (entry.isFile()) await chmod(path, PRIVATE_FILE);
    } catch (err) {
      // A temporary file renamed or removed while we walk is fine.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
}
