// One agent process per work directory: its identity (agent.json), its task directories and its
// caches are not made to be shared, and two agents on one identity would run the same tasks twice.
// The lock is a file holding the owner's pid; one whose process is gone (a crash, kill -9) is stale
// and taken over.
import { readFileSync, unlinkSync } from 'node:fs';
import { readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const LOCK_FILE = 'agent.lock';

/** The work directory is held by another live agent process. */
export class WorkDirBusyError extends Error {}

/** Whether `pid` is a live drover process (not merely a pid reused by something else). */
export function isDroverProcess(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: it exists but belongs to someone else, so it is not one of ours to judge; count it live.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('drover');
  } catch {
    return true; // no /proc: trust the pid
  }
}

/** The pid holding the lock of `workDir`, if a live drover process holds it. */
export async function lockHolder(workDir: string, file = LOCK_FILE): Promise<number | null> {
  try {
    const pid = Number((await readFile(join(workDir, file), 'utf8')).trim());
    return Number.isInteger(pid) && pid > 0 && pid !== process.pid && isDroverProcess(pid) ? pid : null;
  } catch {
    return null;
  }
}

/**
 * Takes the lock of `workDir` for this process until it exits; refuses if a live process holds it.
 * `file` and `what` serve other holders (`drover up` locks its data directory the same way).
 */
export async function lockWorkDir(workDir: string, file = LOCK_FILE, what = 'another agent'): Promise<void> {
  const path = join(workDir, file);
  for (let tries = 0; tries < 5; tries++) {
    try {
      await writeFile(path, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
      process.on('exit', () => {
        try {
          if (readFileSync(path, 'utf8').trim() === String(process.pid)) unlinkSync(path);
        } catch {
          // gone already
        }
      });
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = await lockHolder(workDir, file);
    if (holder !== null) throw new WorkDirBusyError(`${workDir} is in use by ${what} (pid ${holder})${file === LOCK_FILE ? ': one agent per work directory' : ''}`);
    // Stale: its process is gone. Another starter may remove it at the same moment; `wx` decides.
    await unlink(path).catch(() => undefined);
  }
  throw new WorkDirBusyError(`could not take the lock ${path}: others keep starting in ${workDir}`);
}
