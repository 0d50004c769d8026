import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { signalProcessGroup, terminateProcessGroup } from './process-group.js';

/** Whether a process of this id still exists. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A shell leading its own group, with a grandchild that ignores SIGTERM; resolves with the grandchild's pid. */
async function groupWithStubbornChild() {
  const child = spawn('sh', ['-c', "sh -c 'trap \"\" TERM; echo $$; while :; do sleep 1; done' & wait"], { detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
  const [line] = (await once(child.stdout, 'data')) as [Buffer];
  return { child, grandchild: Number(line.toString().trim()) };
}

async function gone(pid: number): Promise<void> {
  while (alive(pid)) await new Promise((r) => setTimeout(r, 50));
}

test('terminateProcessGroup ends the whole group, SIGKILL for what ignores SIGTERM', async () => {
  const { child, grandchild } = await groupWithStubbornChild();
  assert.ok(alive(grandchild));
  terminateProcessGroup(child.pid!, 200);
  await once(child, 'exit');
  // The grandchild ignored SIGTERM; the SIGKILL that follows ends it.
  await gone(grandchild);
  assert.equal(alive(grandchild), false);
});

test('a canceled SIGKILL is not sent, and signalling a group that is gone is no error', async () => {
  const { child, grandchild } = await groupWithStubbornChild();
  const cancelKill = terminateProcessGroup(child.pid!, 200);
  cancelKill();
  await once(child, 'exit');
  await new Promise((r) => setTimeout(r, 600));
  assert.ok(alive(grandchild), 'the process that ignored SIGTERM still runs: no SIGKILL came');
  signalProcessGroup(child.pid!, 'SIGKILL');
  await gone(grandchild);
  signalProcessGroup(child.pid!, 'SIGKILL');
});
