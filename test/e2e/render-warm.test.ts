// Warm Blender sessions with the real Blender: frames rendered by a warm session are the same
// pixels as a cold task's and a plain `blender -b FILE -f N`; a session is reused by the next task
// of its job but never shared between projects; a warm Blender killed mid-frame costs only the
// frames it had not finished; an agent that has rendered keeps a spare Blender for the next job.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, mkdtemp, readdir, readFile, readlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { decodePixels } from '../../src/render/thumbnails.js';
import { type Farm, api, eventually, startAgent, startFarm } from '../helpers/farm.js';
import { waitForJobStatus } from '../helpers/reliability.js';
import { BLENDER, makeScene } from '../helpers/scenes.js';

const run = promisify(execFile);

interface JobJson {
  id: string;
  status: string;
}

const name = (f: number) => `frame_${String(f).padStart(5, '0')}.png`;

async function assertSamePixels(actual: string, expected: string, what: string): Promise<void> {
  const [a, b] = await Promise.all([decodePixels(actual), decodePixels(expected)]);
  assert.equal(`${a.width}x${a.height}`, `${b.width}x${b.height}`, `${what}: size`);
  assert.ok(a.data.equals(b.data), `${what}: pixels differ`);
}

/** Every task's log text (all attempts), by task index. */
async function taskLogs(farm: Farm, jobId: string): Promise<Map<number, string>> {
  const token = await farm.adminToken();
  const { body } = await api<{ tasks: { id: string; index: number; attempt: number }[] }>(farm.url, token, 'GET', `/jobs/${jobId}/tasks`);
  const out = new Map<number, string>();
  for (const t of body.tasks) {
    const logs = await api<{ entries: { data: string }[] }>(farm.url, token, 'GET', `/tasks/${t.id}/logs`);
    out.set(t.index, logs.body.entries.map((e) => e.data).join(''));
  }
  return out;
}

/** The warm session ids a job's tasks used, from the "warm session ID (pid N) ..." lines. */
function sessionIds(logs: Map<number, string>): string[] {
  return [...logs.values()].flatMap((text) => [...text.matchAll(/warm session ([0-9a-f]+) \(pid/g)].map((m) => m[1]!));
}

describe('warm Blender sessions', { timeout: 600_000 }, () => {
  let farm: Farm;
  let work: string;
  let project: string;
  let blend: string;

  before(async () => {
    // Two slots: two tasks at a time, so two jobs' tasks interleave on one agent; room for a session
    // per slot and project, so interleaved jobs do not close each other's sessions.
    farm = await startFarm({ agents: 1, slots: 2, leaseSeconds: 10, env: { DROVER_WARM_MAX_SESSIONS: '4' } });
    work = await mkdtemp(join(tmpdir(), 'drover-warm-'));
    project = join(work, 'project');
    blend = await makeScene(project, { frames: [1, 6], texture: true, resolution: [64, 48], samples: 4 });
  });
  after(async () => farm?.stop());

  test('warm and cold frames are pixel-identical to plain Blender; a job reuses its session; projects never share one', async () => {
    // A second project: the same scene with another texture, so another session key.
    const other = join(work, 'other');
    await cp(project, other, { recursive: true });
    await makeScene(other, { frames: [1, 6], texture: true, resolution: [64, 48], samples: 8 });

    const submit = async (dir: string, extra: string[]) => {
      const r = await farm.cli(['render', dir, '--frames', '1-6', '--json', ...extra]);
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout) as JobJson;
    };
    const warmA = await submit(project, ['--chunk', '1']);
    const warmB = await submit(other, ['--chunk', '3']);
    const cold = await submit(project, ['--chunk', '3', '--cold']);
    const out = join(work, 'out');
    const token = await farm.adminToken();
    for (const job of [warmA, warmB, cold]) {
      const status = await eventually(async () => {
        const s = (await api<{ status: string }>(farm.url, token, 'GET', `/jobs/${job.id}`)).body.status;
        return ['done', 'error', 'stopped'].includes(s) ? s : null;
      }, 200_000, `job ${job.id} to end`);
      assert.equal(status, 'done');
      const d = await farm.cli(['job', 'download-results', job.id, '-d', out]);
      assert.equal(d.code, 0, d.stderr);
    }

    const frames = [1, 2, 3, 4, 5, 6];
    const plain = join(work, 'plain');
    await run(BLENDER, ['-b', blend, '-noaudio', '-o', join(plain, 'frame_#####'), '-F', 'PNG', '-x', '1', '-f', frames.join(',')], { maxBuffer: 64 * 1024 * 1024 });
    const warmFrames = await framesOf(out, warmA.id);
    const coldFrames = await framesOf(out, cold.id);
    assert.deepEqual([...warmFrames.keys()].sort(), frames.map(name));
    assert.deepEqual([...coldFrames.keys()].sort(), frames.map(name));
    for (const f of frames) {
      await assertSamePixels(warmFrames.get(name(f))!, join(plain, name(f)), `warm frame ${f} vs plain Blender`);
      await assertSamePixels(coldFrames.get(name(f))!, join(plain, name(f)), `cold frame ${f} vs plain Blender`);
    }
    // The other project really is different (8 samples): its frames differ from the first's.
    const otherFrames = await framesOf(out, warmB.id);
    const [a, b] = await Promise.all([decodePixels(warmFrames.get(name(1))!), decodePixels(otherFrames.get(name(1))!)]);
    assert.ok(!a.data.equals(b.data));

    const logsA = await taskLogs(farm, warmA.id);
    const logsB = await taskLogs(farm, warmB.id);
    const logsCold = await taskLogs(farm, cold.id);
    const idsA = sessionIds(logsA);
    const idsB = sessionIds(logsB);
    assert.equal(idsA.length, 6, 'every warm task names its session');
    assert.equal(idsB.length, 2);
    assert.equal(sessionIds(logsCold).length, 0, '--cold runs one Blender per task');
    assert.match(logsCold.get(1)!, /Saved: '.*frame_00001\.png'/);
    // Reuse: six tasks on two slots need at most two sessions of project A (one per slot).
    assert.ok(new Set(idsA).size <= 2, `job A used sessions ${[...new Set(idsA)].join(', ')}`);
    assert.ok(logsA.size === 6 && [...logsA.values()].some((t) => /reused/.test(t)), 'a later task reused a session');
    for (const id of new Set(idsB)) assert.ok(!idsA.includes(id), `session ${id} was shared by two projects`);
    // Blender's own output reaches each task's log: the frame it saved and nothing of the driver.
    for (const [index, text] of logsA) {
      assert.match(text, new RegExp(`Saved: '[^']*frame_0000${index}\\.png'`), `task ${index}'s log shows its frame`);
      assert.doesNotMatch(text, /@drover-/);
    }
    // The jobs have ended, so their sessions close (long before the 60 s idle limit).
    for (const id of new Set([...idsA, ...idsB])) {
      await farm.agents[0]!.waitForOutput(new RegExp(`warm session ${id} closed: its job ended`), 30_000);
    }
  });

  test('an agent that has rendered keeps a spare Blender: the next job starts in it, with the same pixels', async () => {
    // The jobs above have ended and the agent is idle: it starts a spare Blender (no project yet).
    const unused = () => {
      const out = farm.agents[0]!.output();
      const ready = [...out.matchAll(/spare Blender ([0-9a-f]+) ready/g)].map((m) => m[1]!);
      return ready.filter((id) => !out.includes(`warm session ${id} started`)).at(-1) ?? null;
    };
    const spareId = await eventually(async () => unused(), 60_000, 'a spare Blender');
    const r = await farm.cli(['render', project, '--frames', '1-3', '--chunk', '3', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const job = JSON.parse(r.stdout) as JobJson;
    const token = await farm.adminToken();
    await waitForJobStatus(farm.url, token, job.id, 'done', 120_000);
    const log = (await taskLogs(farm, job.id)).get(1)!;
    assert.match(log, new RegExp(`warm session ${spareId} \\(pid \\d+\\) started from the spare Blender`));
    const out = join(work, 'out-spare');
    const d = await farm.cli(['job', 'download-results', job.id, '-d', out]);
    assert.equal(d.code, 0, d.stderr);
    const plain = join(work, 'plain-spare');
    await run(BLENDER, ['-b', blend, '-noaudio', '-o', join(plain, 'frame_#####'), '-F', 'PNG', '-x', '1', '-f', '1,2,3'], { maxBuffer: 64 * 1024 * 1024 });
    const frames = await framesOf(out, job.id);
    assert.deepEqual([...frames.keys()].sort(), [1, 2, 3].map(name));
    for (const f of [1, 2, 3]) await assertSamePixels(frames.get(name(f))!, join(plain, name(f)), `frame ${f} from the spare vs plain Blender`);
  });

  test('a render node (DROVER_WARM_SPARE=start) starts its spare Blender when it joins: its first job starts in it, with the same pixels', async () => {
    const node = await startAgent(farm.server, { name: 'render-node', slots: 2, extraArgs: ['--label', 'node=render'], env: { DROVER_WARM_SPARE: 'start' } });
    try {
      // Nothing rendered on this agent yet, and a spare Blender is up.
      const [, spareId] = await node.waitForOutput(/spare Blender ([0-9a-f]+) ready/, 60_000);
      assert.doesNotMatch(node.output(), /warm session [0-9a-f]+ .*started/);
      const r = await farm.cli(['render', project, '--frames', '2', '--require', 'node=render', '--json']);
      assert.equal(r.code, 0, r.stderr);
      const job = JSON.parse(r.stdout) as JobJson;
      await waitForJobStatus(farm.url, await farm.adminToken(), job.id, 'done', 120_000);
      assert.match((await taskLogs(farm, job.id)).get(1)!, new RegExp(`warm session ${spareId} \\(pid \\d+\\) started from the spare Blender`));
      const out = join(work, 'out-render-node');
      assert.equal((await farm.cli(['job', 'download-results', job.id, '-d', out])).code, 0);
      const plain = join(work, 'plain-render-node');
      await run(BLENDER, ['-b', blend, '-noaudio', '-o', join(plain, 'frame_#####'), '-F', 'PNG', '-x', '1', '-f', '2'], { maxBuffer: 64 * 1024 * 1024 });
      await assertSamePixels((await framesOf(out, job.id)).get(name(2))!, join(plain, name(2)), 'frame 2 from the render node vs plain Blender');
    } finally {
      await node.kill('SIGINT');
    }
  });

  test('a warm Blender killed mid-frame costs only the unfinished frames', async () => {
    // Slow frames (about 2 s each on a quiet machine), so the kill lands mid-task: the session is
    // found once frame 1 is delivered, frozen with SIGSTOP while the delivered frames are counted
    // (it cannot finish another frame in between), then killed. Frames 1-4 are task 1's, 5-8 task 2's.
    const own = farm;
    {
      const slow = join(work, 'slow');
      await makeScene(slow, { frames: [1, 8], resolution: [160, 120], samples: 128 });
      // Held, then started: `drover render` may return well after its job exists (Blender reads the
      // file for warnings beside it), and the frames must not have run ahead of the watch below.
      const r = await own.cli(['render', slow, '--chunk', '4', '--hold', '--json']);
      assert.equal(r.code, 0, r.stderr);
      const job = JSON.parse(r.stdout) as JobJson;
      const token = await own.adminToken();
      assert.equal((await own.cli(['job', 'start', job.id])).code, 0);
      type Frames = { frames: { frame: number; status: string; attempt: number | null }[] };
      const deliveredFrames = async () => (await api<Frames>(own.url, token, 'GET', `/jobs/${job.id}/frames`)).body.frames.filter((f) => f.status === 'done');
      await eventually(async () => (await deliveredFrames()).some((f) => f.frame === 1), 120_000, 'frame 1 to be delivered');
      const first = (await taskLogs(own, job.id)).get(1) ?? '';
      const id = sessionIds(new Map([[1, first]]))[0]!;
      assert.ok(id);
      const pid = await blenderOfSession(id);
      process.kill(pid, 'SIGSTOP');
      // A frame saved just before the freeze may still be on its way up: give it a moment.
      await new Promise((res) => setTimeout(res, 1000));
      const done = await deliveredFrames();
      assert.ok(!done.some((f) => f.frame === 4), 'the kill must land before task 1 ends: make its frames slower');
      process.kill(pid, 'SIGKILL');

      await waitForJobStatus(own.url, token, job.id, 'done', 150_000);
      const { body } = await api<Frames>(own.url, token, 'GET', `/jobs/${job.id}/frames`);
      assert.ok(body.frames.every((f) => f.status === 'done'));
      for (const f of done) assert.equal(body.frames.find((x) => x.frame === f.frame)!.attempt, 1, `frame ${f.frame} was rendered again`);
      // The killed task was retried with only its missing frames, in a fresh session.
      const after = await taskLogs(own, job.id);
      const killed = [...after.values()].find((t) => t.includes(`warm session ${id}`) && /rendering the missing frames only/.test(t));
      assert.ok(killed, 'the killed task was retried with its missing frames only');
      assert.match(killed, /killed by SIGKILL|exited with code/);
      const retryIds = [...killed.matchAll(/warm session ([0-9a-f]+) \(pid/g)].map((m) => m[1]);
      assert.ok(retryIds.length >= 2 && retryIds.at(-1) !== id, 'the retry started a new session');
      for (const f of done) assert.doesNotMatch(killed.slice(killed.indexOf('rendering the missing frames only')), new RegExp(`Saved: '[^']*${name(f.frame)}`));
    }
  });
});

/** The frames a job delivered, by file name, after download-results. */
async function framesOf(out: string, jobId: string): Promise<Map<string, string>> {
  const dir = join(out, jobId, 'frames');
  return new Map((await readdir(dir)).map((f) => [f, join(dir, f)]));
}

/**
 * The host pid of a session's Blender, found in /proc: its command line carries the session id
 * (in the driver's settings), and it is Blender itself rather than bwrap or setpriv around it.
 */
async function blenderOfSession(id: string): Promise<number> {
  return eventually(async () => {
    for (const entry of await readdir('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const argv = (await readFile(`/proc/${entry}/cmdline`, 'utf8')).split('\0');
        if (!argv.some((a) => a.includes(`"session": "${id}"`) || a.includes(`"session":"${id}"`))) continue;
        const exe = await readlink(`/proc/${entry}/exe`);
        if (/blender/.test(exe)) return Number(entry);
      } catch {
        // gone, or not ours to read
      }
    }
    return null;
  }, 10_000, `the Blender of session ${id}`);
}
