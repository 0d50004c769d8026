// `drover up` on a data directory whose previous launcher died without stopping its agents (kill -9
// of an older version, a crash): those agents still hold their work directories and tasks. They
// are found by the locks they hold and stopped before new agents start there.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { isDroverProcess, lockHolder } from '../agent/work-dir-lock.js';

async function exited(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!isDroverProcess(pid)) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return !isDroverProcess(pid);
}

/**
 * Stops every live agent holding a work directory under `agentsDir`: SIGINT first (it kills its
 * tasks and gives them back), SIGKILL after `graceMs`. Returns the pids stopped.
 */
export async function stopLeftoverAgents(agentsDir: string, log: (line: string) => void, graceMs = 15_000): Promise<number[]> {
  let entries: string[];
  try {
    entries = await readdir(agentsDir);
  } catch {
    return [];
  }
  const stopped: number[] = [];
  await Promise.all(
    entries.map(async (entry) => {
      const pid = await lockHolder(join(agentsDir, entry));
      if (pid === null) return;
      log(`a leftover agent (pid ${pid}) still runs in ${join(agentsDir, entry)}: stopping it`);
      try {
        process.kill(pid, 'SIGINT');
        if (!(await exited(pid, graceMs))) process.kill(pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
      await exited(pid, 5000);
      stopped.push(pid);
    }),
  );
  return stopped;
}
