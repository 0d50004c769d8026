// Lets an unprivileged sandbox user write into a task directory prepared by a root agent.
import { chownSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** The conventional "nobody" ids: owns nothing on the host, so a task running as it can reach only what is world-readable. */
export const NOBODY = { uid: 65534, gid: 65534 } as const;

/**
 * Hands the task directory and its sub-directories to `uid:gid`, leaving files alone.
 *
 * Only directories change owner: that is enough for the task to create, replace and delete entries
 * (its outputs, temp files), while the input files keep their owner and mode. This matters because
 * the agent may hard-link inputs from its blob cache; chowning such a file would hand the cached
 * blob itself to the task, which could then corrupt it for every later task.
 */
export function grantDirectoriesTo(taskDir: string, uid: number, gid: number): void {
  const stack = [taskDir];
  while (stack.length > 0) {
    const dir = stack.pop()!;
    chownSync(dir, uid, gid);
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      // Dirent.isDirectory() is false for symlinks, so links cannot lead the walk outside the task.
      if (entry.isDirectory()) stack.push(join(dir, entry.name));
    }
  }
}
