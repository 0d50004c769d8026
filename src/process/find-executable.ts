// Finds programs by absolute path, so a wrapped command does not depend on the PATH it is given.
import { lstatSync } from 'node:fs';
import { delimiter, join } from 'node:path';

const executableCache = new Map<string, string | null>();

/** Absolute path of a program, searched on the agent's PATH plus the sbin dirs (setpriv lives in /usr/bin, runc in /usr/sbin). */
export function findExecutable(name: string): string | null {
  if (executableCache.has(name)) return executableCache.get(name)!;
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];
  let found: string | null = null;
  for (const dir of dirs) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    try {
      const stat = lstatSync(candidate);
      if (!stat.isDirectory()) {
        found = candidate;
        break;
      }
    } catch {
      // Not here.
    }
  }
  executableCache.set(name, found);
  return found;
}
