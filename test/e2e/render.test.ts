// Render jobs with the real Blender from Debian: a generated scene (Cycles, tiny, few samples,
// something that moves) rendered across real agents, compared pixel for pixel with plain Blender.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { readSceneInfo } from '../../src/render/scene-info.js';
import { decodePixels } from '../../src/render/thumbnails.js';
import { type Farm, api, eventually, startAgent, startFarm } from '../helpers/farm.js';
import { BLENDER, makeScene } from '../helpers/scenes.js';

const run = promisify(execFile);

interface RenderJson {
  id: string;
  status: string;
  taskCount: number;
  upload: { files: number; sentFiles: number; sentBytes: number };
  render: { framesDone: number; frameCount: number; preview: { status: string } | null };
}

/** Renders `frames` with a plain `blender -b FILE -f N` into `dir`; returns the frame paths. */
async function plainRender(blend: string, dir: string, frames: number[]): Promise<Map<number, string>> {
  await mkdir(dir, { recursive: true });
  await run(BLENDER, ['-b', blend, '-noaudio', '-o', join(dir, 'frame_#####'), '-F', 'PNG', '-x', '1', '-f', frames.join(',')], { maxBuffer: 64 * 1024 * 1024 });
  return new Map(frames.map((f) => [f, join(dir, `frame_${String(f).padStart(5, '0')}.png`)]));
}

async function assertSamePixels(actual: string, expected: string, what: string): Promise<void> {
  const [a, b] = await Promise.all([decodePixels(actual), decodePixels(expected)]);
  assert.equal(a.width, b.width, `${what}: width`);
  assert.equal(a.height, b.height, `${what}: height`);
  assert.ok(a.data.equals(b.data), `${what}: pixels differ from a plain Blender render`);
}

describe('render jobs with the real Blender', { timeout: 600_000 }, () => {
  let farm: Farm;
  let work: string;
  let project: string;
  let blend: string;

  before(async () => {
    farm = await startFarm({ agents: 2, leaseSeconds: 3 });
    work = await mkdtemp(join(tmpdir(), 'drover-render-'));
    project = join(work, 'project');
    // A texture from a subfolder (//textures/checker.png), and twelve frames of motion.
    blend = await makeScene(project, { frames: [1, 12], texture: true, resolution: [64, 48], samples: 4 });
  });
  after(async () => farm?.stop());

  test('frames 1-12 in chunks of 5 on two agents are pixel-identical to plain Blender renders, with the texture', async () => {
    const out = join(work, 'out');
    const r = await farm.cli(['render', project, '--frames', '1-12', '--chunk', '5', '-w', '-d', out, '--json'], { timeoutMs: 300_000 });
    assert.equal(r.code, 0, r.stderr);
    const job = JSON.parse(r.stdout) as RenderJson;
    assert.equal(job.status, 'done');
    assert.equal(job.taskCount, 3, '12 frames in chunks of 5 make 3 tasks');
    assert.equal(job.render.framesDone, 12);

    const frames = Array.from({ length: 12 }, (_, i) => i + 1);
    const expected = await plainRender(blend, join(work, 'plain'), frames);
    const got = join(out, job.id, 'frames');
    assert.deepEqual((await readdir(got)).sort(), frames.map((f) => `frame_${String(f).padStart(5, '0')}.png`));
    for (const f of frames) await assertSamePixels(join(got, `frame_${String(f).padStart(5, '0')}.png`), expected.get(f)!, `frame ${f}`);
    // Something moves: the first and last frames differ.
    const [first, last] = await Promise.all([decodePixels(expected.get(1)!), decodePixels(expected.get(12)!)]);
    assert.ok(!first.data.equals(last.data));

    // Logs per task and the preview video (ffmpeg is installed here).
    assert.deepEqual((await readdir(join(out, job.id, 'logs'))).sort(), ['task-0001.stderr.txt', 'task-0001.stdout.txt', 'task-0002.stderr.txt', 'task-0002.stdout.txt', 'task-0003.stderr.txt', 'task-0003.stdout.txt']);
    assert.match(await readFile(join(out, job.id, 'logs', 'task-0001.stdout.txt'), 'utf8'), /Saved: '.*frame_00001\.png'/);
    const probe = await run('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-count_frames', '-show_entries', 'stream=codec_name,nb_read_frames', '-of', 'json', join(out, job.id, 'preview.mp4')]);
    const stream = (JSON.parse(probe.stdout) as { streams: { codec_name: string; nb_read_frames: string }[] }).streams[0]!;
    assert.equal(stream.codec_name, 'h264');
    assert.equal(Number(stream.nb_read_frames), 12);

    // Every frame has its own state, render time and thumbnail; the job shows its last frame.
    const token = await farm.adminToken();
    const list = await api<{ frames: { frame: number; status: string; renderMs: number | null; thumbnail: string | null }[] }>(farm.url, token, 'GET', `/jobs/${job.id}/frames`);
    assert.equal(list.body.frames.length, 12);
    assert.ok(list.body.frames.every((f) => f.status === 'done' && f.thumbnail && f.renderMs !== null));
    const thumb = await fetch(`${farm.url}/api/v1/jobs/${job.id}/frames/7/thumbnail`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(thumb.status, 200);
    assert.equal(thumb.headers.get('content-type'), 'image/jpeg');
    const view = await api<{ render: { lastFrame: { frame: number } | null } }>(farm.url, token, 'GET', `/jobs/${job.id}`);
    assert.ok(view.body.render.lastFrame);
  });

  test('resubmitting an unchanged project uploads no file contents; a changed texture uploads one file', async () => {
    const first = JSON.parse((await farm.cli(['render', project, '--frames', '1', '--hold', '--json'])).stdout) as RenderJson;
    assert.equal(first.upload.sentFiles, 0, 'the first test uploaded this project already');
    assert.equal(first.upload.sentBytes, 0);
    const copy = join(work, 'changed');
    await cp(project, copy, { recursive: true });
    await writeFile(join(copy, 'textures', 'checker.png'), await readFile(join(copy, 'textures', 'checker.png')).then((b) => Buffer.concat([b, Buffer.from('x')])));
    const second = JSON.parse((await farm.cli(['render', copy, '--frames', '1', '--hold', '--json'])).stdout) as RenderJson;
    assert.equal(second.upload.files, 2);
    assert.equal(second.upload.sentFiles, 1);
  });

  test("the job carries the scene's settings as Blender reads them; Blender's warnings about the project's files still come", async () => {
    // The CLI creates the job with settings read from the .blend's bytes while Blender reads the
    // file beside the upload: the job must still hold what Blender says, and the warnings come.
    const elsewhere = join(work, 'elsewhere');
    const warned = join(work, 'warned');
    const file = await makeScene(warned, { frames: [2, 9], fps: 30, resolution: [96, 54], samples: 3, fileFormat: 'FFMPEG', externalTexture: join(elsewhere, 'wood.png') });
    const r = await farm.cli(['render', warned, '--hold', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const job = JSON.parse(r.stdout) as RenderJson & { warnings: string[]; render: { frames: string; fps: number; format: string | null; sceneSettings: unknown } };
    const info = await readSceneInfo(file);
    assert.equal(job.render.frames, '2-9', "the scene's range");
    assert.equal(job.render.fps, info.scene.fps);
    assert.equal(job.render.format, 'PNG', 'a movie format renders PNG frames');
    assert.deepEqual(job.render.sceneSettings, { format: 'FFMPEG', resolution: { width: 96, height: 54 }, percentage: 100, samples: 3 });
    assert.ok(info.warnings.length > 0, 'the texture outside the project is warned about');
    for (const w of info.warnings) assert.ok(job.warnings.includes(w), `warning "${w}" in ${JSON.stringify(job.warnings)}`);
    assert.ok(job.warnings.some((w) => /a movie format; rendering PNG frames instead/.test(w)));
    const plain = await farm.cli(['render', warned, '--frames', '2-3', '--hold']);
    assert.equal(plain.code, 0, plain.stderr);
    assert.match(plain.stderr, /^warning: .*wood\.png.* uses an absolute path/m);
    // A scene the file does not have waits for Blender's answer: refused, nothing created.
    const token = await farm.adminToken();
    const jobsBefore = (await api<{ total: number }>(farm.url, token, 'GET', '/jobs')).body.total;
    const wrongScene = await farm.cli(['render', warned, '--scene', 'Nope', '--hold']);
    assert.notEqual(wrongScene.code, 0);
    assert.match(wrongScene.stderr, /^error: .*scene "Nope" is not in .*; its scenes are: Main/m);
    assert.equal((await api<{ total: number }>(farm.url, token, 'GET', '/jobs')).body.total, jobsBefore, 'no job was created');
  });

  test('an agent killed mid-chunk loses no finished frame, and the retry renders only the rest', async () => {
    // Its own farm with one agent, so the chunk certainly starts there; bigger frames so it takes a while.
    const own = await startFarm({ agents: 1, leaseSeconds: 3 });
    try {
      const slowProject = join(work, 'slow');
      await makeScene(slowProject, { frames: [1, 8], resolution: [160, 120], samples: 48 });
      // Held, then started: `drover render` may return well after its job exists (Blender reads the
      // file for warnings beside it), by when the agent could have rendered every frame.
      const created = JSON.parse((await own.cli(['render', slowProject, '--chunk', '8', '--hold', '--json'])).stdout) as RenderJson;
      const token = await own.adminToken();
      assert.equal((await own.cli(['job', 'start', created.id])).code, 0);
      const before = await eventually(async () => {
        const { body } = await api<{ frames: { frame: number; status: string; attempt: number | null }[] }>(own.url, token, 'GET', `/jobs/${created.id}/frames`);
        const done = body.frames.filter((f) => f.status === 'done');
        return done.length >= 2 ? done : null;
      }, 120_000, 'two frames of the chunk to be saved');
      await own.agents[0]!.kill('SIGKILL');
      const rescuer = await startAgent(own.server, { name: 'rescuer' });
      try {
        await eventually(async () => (await api<{ status: string }>(own.url, token, 'GET', `/jobs/${created.id}`)).body.status === 'done', 240_000, 'the job to finish');
        const { body } = await api<{ frames: { frame: number; status: string; attempt: number | null; sha256: string }[] }>(own.url, token, 'GET', `/jobs/${created.id}/frames`);
        assert.equal(body.frames.length, 8);
        assert.ok(body.frames.every((f) => f.status === 'done'));
        // The frames saved before the kill were kept from attempt 1, untouched.
        for (const f of before) {
          const now = body.frames.find((x) => x.frame === f.frame)!;
          assert.equal(now.attempt, 1, `frame ${f.frame} was rendered again`);
        }
        assert.ok(body.frames.some((f) => f.attempt === 2));
        const tasks = await api<{ tasks: { id: string }[] }>(own.url, token, 'GET', `/jobs/${created.id}/tasks`);
        const logs = await api<{ entries: { attempt: number; data: string }[] }>(own.url, token, 'GET', `/tasks/${tasks.body.tasks[0]!.id}/logs?attempt=2`);
        const text = logs.body.entries.map((e) => e.data).join('');
        assert.match(text, /rendering the missing frames only/);
        for (const f of before) assert.doesNotMatch(text, new RegExp(`Saved: '[^']*frame_${String(f.frame).padStart(5, '0')}`));
      } finally {
        await rescuer.kill('SIGINT');
      }
    } finally {
      await own.stop();
    }
  });

  test('bad projects are refused at submit with a clear message', async () => {
    const bad = await farm.cli(['render', project, '--frames', '10-1']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /reversed|10-1/);
    for (const expr of ['', 'a-b', '1-2000000', '5-:2']) {
      const r = await farm.cli(['render', project, '--frames', expr]);
      assert.notEqual(r.code, 0, `frames "${expr}" must be refused`);
      assert.match(r.stderr, /^error: /m);
    }

    const noBlend = join(work, 'noblend.zip');
    await run('python3', ['-c', `import zipfile; z = zipfile.ZipFile(${JSON.stringify(noBlend)}, 'w'); z.writestr('textures/a.png', b'x'); z.close()`]);
    const zipRun = await farm.cli(['render', noBlend, '--frames', '1']);
    assert.notEqual(zipRun.code, 0);
    assert.match(zipRun.stderr, /no \.blend/i);

    const fake = join(work, 'fake');
    await mkdir(fake, { recursive: true });
    await writeFile(join(fake, 'scene.blend'), 'this is not a blender file\n');
    const fakeRun = await farm.cli(['render', fake, '--frames', '1']);
    assert.notEqual(fakeRun.code, 0);
    assert.match(fakeRun.stderr, /not a Blender file/);

    // The coordinator refuses the same things itself, whatever the client.
    const token = await farm.adminToken();
    const sha = await uploadText(farm, token, 'this is not a blender file\n');
    const apiFake = await api<{ error: { message: string } }>(farm.url, token, 'POST', '/jobs', { kind: 'render', name: 'x', project: { files: [{ path: 'scene.blend', sha256: sha }], blend: 'scene.blend' }, frames: '1' });
    assert.equal(apiFake.status, 400);
    assert.match(apiFake.body.error.message, /not a Blender file/);
    const apiFrames = await api<{ error: { message: string } }>(farm.url, token, 'POST', '/jobs', { kind: 'render', name: 'x', project: { files: [{ path: 'scene.blend', sha256: sha }], blend: 'scene.blend' }, frames: '9-3' });
    assert.equal(apiFrames.status, 400);
    assert.match(apiFrames.body.error.message, /9-3/);
    const before = (await api<{ total: number }>(farm.url, token, 'GET', '/jobs')).body.total;
    assert.equal((await api<{ total: number }>(farm.url, token, 'GET', '/jobs')).body.total, before, 'nothing was stored');
  });

  test("the tutorial's workflow still works as a script job calling Blender", async () => {
    const ws = await mkdtemp(join(tmpdir(), 'drover-tutorial-'));
    await cp(project, join(ws, 'classroom'), { recursive: true });
    await run('python3', ['-c', `import shutil; shutil.make_archive(${JSON.stringify(join(ws, 'classroom'))}, 'zip', ${JSON.stringify(join(ws, 'classroom'))})`]);
    // The tutorial's run script, minus the download: the project zip is a constants file.
    await writeFile(
      join(ws, 'run.py'),
      [
        'import os, sys, time, zipfile',
        "OUT_DIR = './run-result'",
        'def run_blender(blender_file, range_in, range_out):',
        '    start = time.time()',
        "    os.system('blender -b ' + blender_file + ' -x 1 -o ' + OUT_DIR + '/frame_##### -f ' + range_in + '..' + range_out + ' > blender.log 2>&1')",
        "    print('Execution Time: ' + str(time.time() - start))",
        'with open(sys.argv[1]) as fp:',
        "    blend = fp.readline().rstrip('\\n'); range_in = fp.readline().rstrip('\\n'); range_out = fp.readline().rstrip('\\n')",
        "zipfile.ZipFile('classroom.zip').extractall('project')",
        "run_blender('project/' + blend, range_in, range_out)",
        "print('Blender Processing Completed')",
      ].join('\n'),
    );
    await mkdir(join(ws, 'sample'));
    for (const i of [1, 2, 3]) await writeFile(join(ws, 'sample', `job_${i}_${i}.txt`), `scene.blend\n${i}\n${i}\n`);
    const r = await farm.cli(['job', 'create', '-n', 'blender_3_frames', '-s', join(ws, 'run.py'), '-i', join(ws, 'sample', 'job_*.txt'), '-c', join(ws, 'classroom.zip'), '-t', 's', '-w', '--json'], { timeoutMs: 300_000 });
    assert.equal(r.code, 0, r.stderr);
    const job = JSON.parse(r.stdout) as { id: string; status: string };
    assert.equal(job.status, 'done');
    const out = join(ws, 'results');
    assert.equal((await farm.cli(['job', 'download-results', job.id, '-d', out])).code, 0);
    const expected = await plainRender(blend, join(ws, 'plain'), [1, 2, 3]);
    for (const i of [1, 2, 3]) {
      const folder = join(out, job.id, `task-000${i}`);
      assert.match(await readFile(join(folder, 'stdout.txt'), 'utf8'), /Blender Processing Completed/);
      await assertSamePixels(join(folder, `frame_0000${i}.png`), expected.get(i)!, `tutorial frame ${i}`);
    }
  });
});

async function uploadText(farm: Farm, token: string, text: string): Promise<string> {
  const { createHash } = await import('node:crypto');
  const sha = createHash('sha256').update(text).digest('hex');
  const res = await fetch(`${farm.url}/api/v1/blobs/${sha}`, { method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' }, body: text });
  assert.equal(res.status, 201);
  return sha;
}
