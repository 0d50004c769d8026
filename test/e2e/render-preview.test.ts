// A render job's preview is a step made on an agent, never in the coordinator: a coordinator whose
// PATH has no ffmpeg still gets one, from the agent that ran the preview task; an agent without
// ffmpeg cannot make it, and the job still ends done, its preview `unavailable` with the reason.
// The preview follows the render: it starts once every chunk has started, and is handed each frame
// as it is recorded (an agent speaking the protocol by hand shows each move of the step gate).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type TestServer, ADMIN_PASSWORD, api, runCli, startAgent, startServer } from '../helpers/farm.js';
import { makeScene } from '../helpers/scenes.js';

const run = promisify(execFile);

interface TaskJson {
  index: number;
  input: string;
  status: string;
  agent: string | null;
  warning: string | null;
}

interface RenderJson {
  id: string;
  status: string;
  taskCount: number;
  counts: Record<string, number>;
  render: {
    framesDone: number;
    preview: { status: string; error: string | null } | null;
    previewTask: { id: string; index: number; status: string; agent: string | null; warning: string | null } | null;
  };
}

/** A PATH with every program of this machine's /usr/bin and /bin except ffmpeg (links in `dir`). */
async function pathWithoutFfmpeg(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const linked = new Set<string>();
  for (const bin of ['/usr/local/bin', '/usr/bin', '/bin']) {
    for (const name of await readdir(bin).catch(() => [] as string[])) {
      if (name === 'ffmpeg' || linked.has(name)) continue;
      linked.add(name);
      await symlink(join(bin, name), join(dir, name));
    }
  }
  return dir;
}

describe('the preview step of render jobs', { timeout: 600_000 }, () => {
  let work: string;
  let server: TestServer;
  let project: string;
  let noFfmpeg: string;
  let cli: (args: string[]) => ReturnType<typeof runCli>;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'drover-preview-'));
    noFfmpeg = await pathWithoutFfmpeg(join(work, 'bin'));
    // The coordinator cannot run ffmpeg: whatever preview there is comes from an agent.
    server = await startServer({ env: { PATH: noFfmpeg }, leaseSeconds: 3 });
    const config = join(work, 'cli.json');
    cli = (args) => runCli(args, { env: { DROVER_CONFIG: config, DROVER_SERVER: server.url }, timeoutMs: 300_000 });
    assert.equal((await cli(['login', '-u', 'admin', '-p', ADMIN_PASSWORD])).code, 0);
    project = join(work, 'project');
    await makeScene(project, { frames: [1, 4], resolution: [64, 48], samples: 2 });
  });
  after(async () => {
    await server?.kill('SIGTERM');
    if (!process.env.DROVER_KEEP_TEST_DATA) await Promise.all([rm(server.dataDir, { recursive: true, force: true }), rm(work, { recursive: true, force: true })]);
  });

  async function tasksOf(jobId: string): Promise<TaskJson[]> {
    const token = (JSON.parse(await readFile(join(work, 'cli.json'), 'utf8')) as { token: string }).token;
    return (await api<{ tasks: TaskJson[] }>(server.url, token, 'GET', `/jobs/${jobId}/tasks`)).body.tasks;
  }

  test('an agent makes the preview as the job\'s last task; the coordinator, without ffmpeg, only stores it', async () => {
    const agent = await startAgent(server, { name: 'with-ffmpeg' });
    try {
      const out = join(work, 'out-ready');
      const r = await cli(['render', project, '--frames', '1-4', '--chunk', '2', '-w', '-d', out, '--json']);
      assert.equal(r.code, 0, r.stderr);
      const job = JSON.parse(r.stdout) as RenderJson;
      assert.equal(job.status, 'done');
      // Frames' chunks are counted as ever; the preview shows as the preview.
      assert.equal(job.taskCount, 2);
      assert.equal(job.counts.done, 2);
      assert.equal(job.render.preview?.status, 'ready', JSON.stringify(job.render.preview));

      // The task list is the chunks (as the counts); the preview's task shows with the preview.
      const tasks = await tasksOf(job.id);
      assert.deepEqual(tasks.map((t) => [t.index, t.input, t.status]), [[1, 'frames 1-2', 'done'], [2, 'frames 3-4', 'done']]);
      const previewTask = job.render.previewTask!;
      assert.deepEqual([previewTask.index, previewTask.status, previewTask.warning], [3, 'done', null]);
      assert.equal(previewTask.agent, 'with-ffmpeg', 'the preview task ran on the agent');
      // The agent rendered every frame: it kept each one it uploaded, and fetched none back.
      const token = (JSON.parse(await readFile(join(work, 'cli.json'), 'utf8')) as { token: string }).token;
      const log = (await api<{ entries: { data: string }[] }>(server.url, token, 'GET', `/tasks/${previewTask.id}/logs`)).body.entries.map((e) => e.data).join('');
      assert.match(log, /making preview\.mp4 of 4 frame\(s\) at 24 fps/);
      assert.match(log, /4 of the 4 frame\(s\) were on this agent already/);

      // The results layout is unchanged: frames, preview.mp4, and the render tasks' logs only.
      const top = await readdir(join(out, job.id));
      for (const name of ['frames', 'logs', 'preview.mp4']) assert.ok(top.includes(name), `${name} in ${top.join(', ')}`);
      assert.ok(!top.includes('task-0003'), 'the preview task has no folder of its own');
      assert.deepEqual((await readdir(join(out, job.id, 'logs'))).sort(), ['task-0001.stderr.txt', 'task-0001.stdout.txt', 'task-0002.stderr.txt', 'task-0002.stdout.txt']);
      const probe = await run('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-count_frames', '-show_entries', 'stream=codec_name,nb_read_frames', '-of', 'json', join(out, job.id, 'preview.mp4')]);
      const stream = (JSON.parse(probe.stdout) as { streams: { codec_name: string; nb_read_frames: string }[] }).streams[0]!;
      assert.equal(stream.codec_name, 'h264');
      assert.equal(Number(stream.nb_read_frames), 4);
    } finally {
      await agent.kill('SIGINT');
    }
  });

  test('the preview is queued once every chunk has started, is given each frame as it is recorded, starts over when a chunk is queued again, and is canceled when a chunk fails', async () => {
    // Its own coordinator, with leases long enough that the requests below need no heartbeats.
    const own = await startServer({ leaseSeconds: 600 });
    const config = join(work, 'cli-follow.json');
    const ownCli = (args: string[]) => runCli(args, { env: { DROVER_CONFIG: config, DROVER_SERVER: own.url }, timeoutMs: 300_000 });
    try {
      assert.equal((await ownCli(['login', '-u', 'admin', '-p', ADMIN_PASSWORD])).code, 0);
      const created = await ownCli(['render', project, '--frames', '1-4', '--chunk', '2', '--max-attempts', '1', '--json']);
      assert.equal(created.code, 0, created.stderr);
      const jobId = (JSON.parse(created.stdout) as { id: string }).id;
      const admin = (JSON.parse(await readFile(config, 'utf8')) as { token: string }).token;
      const registered = await api<{ agentToken: string }>(own.url, own.joinToken, 'POST', '/agents/register', { name: 'by-hand', cores: 8, memoryBytes: 8 * 2 ** 30, labels: {}, slots: 8, sandbox: false, version: 'test' });
      assert.equal(registered.status, 200, JSON.stringify(registered.body));
      const agent = registered.body.agentToken;
      type Leased = { taskId: string; attempt: number; kind: string; taskSpec: { frames: { frame: number; path: string | null; sha256: string | null }[] } };
      const lease = async () => (await api<{ tasks: Leased[] }>(own.url, agent, 'POST', '/agent/lease', { freeCores: 8, maxTasks: 1 })).body.tasks;
      const previewStatus = async () => (await api<RenderJson>(own.url, admin, 'GET', `/jobs/${jobId}`)).body.render.previewTask?.status;
      const framesFrom = (t: Leased, from: number, wait: number) => api<{ frames: { frame: number; path: string; sha256: string }[] }>(own.url, agent, 'GET', `/agent/tasks/${t.taskId}/preview-frames?attempt=${t.attempt}&from=${from}&waitSeconds=${wait}`);

      const [first] = await lease();
      assert.equal(first?.kind, 'render');
      assert.equal(await previewStatus(), 'pending', 'a chunk is still queued');
      const [second] = await lease();
      assert.equal(second?.kind, 'render');
      assert.equal(await previewStatus(), 'queued', 'every chunk has started: the preview may start too');
      const [preview] = await lease();
      assert.equal(preview?.kind, 'preview');
      assert.deepEqual(preview.taskSpec.frames, [1, 2, 3, 4].map((frame) => ({ frame, path: null, sha256: null })), 'no frame is recorded yet');
      assert.deepEqual((await framesFrom(preview, 1, 0)).body, { frames: [] });

      // A frame recorded while the preview waits for it ends its wait.
      const waiting = framesFrom(preview, 1, 30);
      const png = Buffer.from('not really a png, but bytes with a hash');
      const sha256 = createHash('sha256').update(png).digest('hex');
      const put = await fetch(`${own.url}/api/v1/blobs/${sha256}`, { method: 'PUT', headers: { authorization: `Bearer ${agent}`, 'content-type': 'application/octet-stream' }, body: png });
      assert.equal(put.status, 201, await put.text());
      const recorded = await api(own.url, agent, 'POST', `/agent/tasks/${first!.taskId}/frames`, { attempt: first!.attempt, frame: 1, path: 'frames/frame_0001.png', sha256, size: png.length });
      assert.equal(recorded.status, 204, JSON.stringify(recorded.body));
      assert.deepEqual((await waiting).body, { frames: [{ frame: 1, path: 'frames/frame_0001.png', sha256 }] });
      // Frame 2 is not recorded: asked from there, the answer waits (here: not at all) and lists nothing.
      assert.deepEqual((await framesFrom(preview, 2, 0)).body, { frames: [] });

      // The second chunk goes back to the queue (given back; a lost lease or a failed attempt does
      // the same): the preview gives its cores back and waits until that chunk has started again,
      // so it can never keep the agent its chunk needs.
      const released = await api(own.url, agent, 'POST', `/agent/tasks/${second!.taskId}/release`, { attempt: second!.attempt, reason: 'given back by the test' });
      assert.equal(released.status, 200, JSON.stringify(released.body));
      assert.equal(await previewStatus(), 'pending');
      assert.equal((await framesFrom(preview, 2, 0)).status, 409, 'the first preview attempt is over');
      const [again] = await lease();
      assert.equal(again?.taskId, second!.taskId);
      assert.equal(await previewStatus(), 'queued');
      const [previewAgain] = await lease();
      assert.equal(previewAgain?.kind, 'preview');
      assert.equal(previewAgain.attempt, preview.attempt + 1);
      assert.deepEqual(previewAgain.taskSpec.frames[0], { frame: 1, path: 'frames/frame_0001.png', sha256 }, 'frame 1 is recorded by now');

      // The second chunk fails for good: the preview, waiting for its frames, is canceled with the reason.
      const empty = createHash('sha256').update('').digest('hex');
      await fetch(`${own.url}/api/v1/blobs/${empty}`, { method: 'PUT', headers: { authorization: `Bearer ${agent}`, 'content-type': 'application/octet-stream' }, body: '' });
      const failed = await api(own.url, agent, 'POST', `/agent/tasks/${again.taskId}/complete`, { attempt: again.attempt, exitCode: 1, error: 'Blender crashed', files: [], stdout: { sha256: empty, size: 0 }, stderr: { sha256: empty, size: 0 } });
      assert.equal(failed.status, 200, JSON.stringify(failed.body));
      const gone = await framesFrom(previewAgain, 2, 0);
      assert.equal(gone.status, 409, 'the attempt is no longer this agent\'s');
      const job = (await api<RenderJson & { render: { previewTask: { error: string | null } } }>(own.url, admin, 'GET', `/jobs/${jobId}`)).body;
      assert.equal(job.render.previewTask?.status, 'canceled');
      assert.match(job.render.previewTask?.error ?? '', /step "Render" did not finish, and step "Preview" depends on it/);
      const beat = await api<{ cancel: { taskId: string; attempt: number }[] }>(own.url, agent, 'POST', '/agent/heartbeat', { tasks: [{ taskId: previewAgain.taskId, attempt: previewAgain.attempt }] });
      assert.deepEqual(beat.body.cancel, [{ taskId: previewAgain.taskId, attempt: previewAgain.attempt }], 'the agent hears it must stop the preview');
    } finally {
      await own.kill('SIGTERM');
      if (!process.env.DROVER_KEEP_TEST_DATA) await rm(own.dataDir, { recursive: true, force: true });
    }
  });

  test('an agent without ffmpeg leaves the render done and its preview unavailable, saying why', async () => {
    const agent = await startAgent(server, { name: 'no-ffmpeg', env: { PATH: noFfmpeg } });
    try {
      const out = join(work, 'out-unavailable');
      const r = await cli(['render', project, '--frames', '1-4', '--chunk', '2', '-w', '-d', out, '--json']);
      assert.equal(r.code, 0, r.stderr);
      const job = JSON.parse(r.stdout) as RenderJson;
      assert.equal(job.status, 'done');
      assert.equal(job.render.framesDone, 4);
      assert.equal(job.render.preview?.status, 'unavailable');
      assert.match(job.render.preview?.error ?? '', /ffmpeg is not installed/);

      assert.equal((await tasksOf(job.id)).length, 2);
      const preview = job.render.previewTask!;
      assert.equal(preview.status, 'done');
      assert.equal(preview.agent, 'no-ffmpeg');
      assert.match(preview.warning ?? '', /ffmpeg is not installed/);
      // Every frame is in the results; there is no preview.mp4.
      assert.equal((await readdir(join(out, job.id, 'frames'))).length, 4);
      assert.ok(!(await readdir(join(out, job.id))).includes('preview.mp4'));
    } finally {
      await agent.kill('SIGINT');
    }
  });
});
