// Agents that prefetch (`drover agent --prefetch N`): real coordinator and agent processes. A held
// task waits for its agent's slot (never runs beside the running one), keeps its lease alive, and
// is given back when the agent stops; near the end of the queue agents take one task at a time.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Farm, api, eventually, jobJson, startFarm } from '../helpers/farm.js';

interface JobJson {
  id: string;
  status: string;
  counts: Record<string, number>;
  tasks: { index: number; status: string; attempts: number; agent: string | null }[];
}

// Each task records when it ran (wall clock, seconds) so overlaps on one agent can be checked.
const TIMED_SCRIPT = `
import os, sys, time
start = time.time()
time.sleep(float(open(sys.argv[1]).read()))
os.makedirs('run-result', exist_ok=True)
open('run-result/times.txt', 'w').write(f'{start} {time.time()}')
`;

async function workspace(tasks: number, seconds: number): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'drover-prefetch-'));
  await mkdir(join(dir, 'in'));
  await writeFile(join(dir, 'timed.py'), TIMED_SCRIPT);
  for (let i = 1; i <= tasks; i++) await writeFile(join(dir, 'in', `t${String(i).padStart(2, '0')}.txt`), String(seconds));
  return dir;
}

/** The job's view once it has ended. */
function jobEnd(farm: Farm, id: string, what: string): Promise<JobJson> {
  return eventually(async () => {
    const v = await jobJson<JobJson>(farm, id);
    return v.status === 'done' || v.status === 'error' ? v : null;
  }, 120_000, what);
}

describe('agents that prefetch', { timeout: 300_000 }, () => {
  let farm: Farm;
  before(async () => {
    // Two 1-slot agents each holding up to 1 task besides the running one.
    farm = await startFarm({ agents: 2, slots: 1, leaseSeconds: 3, agentArgs: ['--prefetch', '1'] });
  });
  after(async () => farm?.stop());

  test('held tasks run one after another on their agent, kept leased while they wait, and every result arrives', async () => {
    // Tasks of 3.5 s: a held task waits longer than a lease period (3 s) for its agent's slot.
    const ws = await workspace(8, 3.5);
    const token = await farm.adminToken();
    const created = await farm.cli(['job', 'create', '-n', 'prefetched', '-s', join(ws, 'timed.py'), '-i', join(ws, 'in', '*.txt'), '-r', '--json']);
    assert.equal(created.code, 0, created.stderr);
    const job = JSON.parse(created.stdout) as JobJson;
    // While the queue is long, each agent holds a second task: more running (leased) than slots.
    await eventually(async () => {
      const { body } = await api<{ tasks: { status: string }[] }>(farm.url, token, 'GET', `/jobs/${job.id}/tasks`);
      return body.tasks.filter((t) => t.status === 'running').length > 2;
    }, 30_000, 'a prefetched task (3 or more leased on 2 slots)');
    const done = await jobEnd(farm, job.id, 'the job to end');
    assert.equal(done.status, 'done');
    assert.equal(done.counts.done, 8);
    // Heartbeats kept the held tasks' leases: none expired, so no task ran twice.
    assert.ok(done.tasks.every((t) => t.attempts === 1), JSON.stringify(done.tasks));

    const out = await mkdtemp(join(tmpdir(), 'drover-prefetch-out-'));
    assert.equal((await farm.cli(['job', 'download-results', job.id, '-d', out])).code, 0);
    const byAgent = new Map<string, [number, number][]>();
    for (const t of done.tasks) {
      const [start, end] = (await readFile(join(out, job.id, `task-${String(t.index).padStart(4, '0')}`, 'times.txt'), 'utf8')).split(' ').map(Number);
      byAgent.set(t.agent!, [...(byAgent.get(t.agent!) ?? []), [start!, end!]]);
    }
    assert.equal(byAgent.size, 2, 'both agents worked');
    for (const [agent, spans] of byAgent) {
      spans.sort((x, y) => x[0] - y[0]);
      for (let i = 1; i < spans.length; i++) assert.ok(spans[i]![0] >= spans[i - 1]![1] - 0.01, `${agent} ran two tasks at once: ${JSON.stringify(spans)}`);
    }
  });

  test('an agent stopped while it holds a task gives it back, and the other agent finishes the job', async () => {
    // 8 tasks, 2 agents each running one and holding one (--prefetch 1): an agent may always hold a
    // task running and one waiting (more with a long queue), so both agents hold a second task.
    // Tasks of 4 s: the running one cannot end between being seen and the SIGINT, even on a busy machine.
    const ws = await workspace(8, 4);
    const token = await farm.adminToken();
    const job = JSON.parse((await farm.cli(['job', 'create', '-n', 'handed back', '-s', join(ws, 'timed.py'), '-i', join(ws, 'in', '*.txt'), '-r', '--json'])).stdout) as JobJson;
    const [first, second] = farm.agents;
    const held = await eventually(async () => {
      const { body } = await api<{ tasks: { id: string; status: string; agent: string | null }[] }>(farm.url, token, 'GET', `/jobs/${job.id}/tasks`);
      const mine = body.tasks.filter((t) => t.status === 'running' && t.agent === first!.name);
      return mine.length === 2 ? mine : null;
    }, 30_000, `${first!.name} to hold a second task`);
    await first!.kill('SIGINT');
    const done = await jobEnd(farm, job.id, 'the job to end on the other agent');
    assert.equal(done.status, 'done');
    assert.equal(done.counts.done, 8);
    // The two tasks it held (one running, one waiting) were given back, not lost: done by the other.
    const heldIds = new Set(held.map((t) => t.id));
    const { body } = await api<{ tasks: { id: string; agent: string | null }[] }>(farm.url, token, 'GET', `/jobs/${job.id}/tasks`);
    for (const t of body.tasks.filter((x) => heldIds.has(x.id))) {
      assert.equal(t.agent, second!.name);
      // Given back at once (interrupted, not counted), not left for its lease to expire (lost).
      const { body: task } = await api<{ tries: number; attempts: { agent: string; status: string }[] }>(farm.url, token, 'GET', `/tasks/${t.id}`);
      assert.deepEqual(task.attempts.map((a) => [a.agent, a.status]), [[first!.name, 'interrupted'], [second!.name, 'done']]);
    }
  });
});
