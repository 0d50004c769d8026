// The Blender add-on in real, headless Blender against a real farm: installed from the zip
// `drover blender-addon` writes, signed in, a scene with an absolute-path texture outside its
// folder and a linked library (with a texture of its own) submitted by `bpy.ops.drover.submit_render`,
// rendered by an agent that started only after those files were moved away (so only what the
// add-on packed can render), fetched back and compared pixel for pixel with a plain Blender render.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';
import { decodePixels } from '../../src/render/thumbnails.js';
import { type Farm, ADMIN_PASSWORD, api, eventually, REPO, runCli, startAgent, startFarm } from '../helpers/farm.js';
import { BLENDER, makeScene } from '../helpers/scenes.js';
import { buildWebApp } from '../helpers/browser.js';

const run = promisify(execFile);
const CHECKS = join(REPO, 'test/e2e/python/addon_checks.py');
const LINK_LIBRARY = join(REPO, 'test/fixtures/scenes/link_library.py');

interface SubmitReport {
  exception?: string;
  token: string;
  password_kept: boolean;
  wrong_password: string;
  unsaved: string;
  missing_texture: string;
  wrong_token: string;
  unreachable: string;
  result: string[];
  job_id: string;
  job_url: string;
  status: string;
  uploaded: [number, number];
  paths_kept: boolean;
  again: { job_id: string; uploaded: [number, number] };
}

interface GuiReport {
  first_invoke: string[];
  cancel: string[];
  canceled: { code: string; job_id: string; paused_at: string };
  second_invoke: string[];
  followed: { job_id: string; status: string; frames: [number, number]; uploaded: [number, number] };
  texts: string[];
  draws: number;
  draw_errors: string[];
}

interface FetchReport {
  exception?: string;
  status: string;
  frames: [number, number];
  default_dir: string;
}

describe('Blender add-on in headless Blender', { timeout: 900_000 }, () => {
  let farm: Farm;
  let work: string;
  let main: string;
  let zip: string;
  let blenderHome: string;

  /** Runs one phase of addon_checks.py in Blender, with its own user folders (no real preferences touched). */
  async function blenderPhase<T>(options: Record<string, unknown>, gui = false): Promise<T> {
    const reportFile = join(work, `report-${String(options.phase)}.json`);
    const args = [...(gui ? [] : ['-b']), '--factory-startup', '-noaudio', '--python', CHECKS, '--', JSON.stringify({ ...options, zip, server: farm.url, report: reportFile })];
    // TMPDIR: where the add-on stages its copy of the .blend, checked empty afterwards.
    const env = { ...process.env, BLENDER_USER_SCRIPTS: join(blenderHome, 'scripts'), BLENDER_USER_CONFIG: join(blenderHome, 'config'), TMPDIR: join(work, 'tmp') };
    await mkdir(join(work, 'tmp'), { recursive: true });
    // With its interface, Blender draws into a virtual X display (software OpenGL).
    const [cmd, cmdArgs] = gui ? ['xvfb-run', ['-a', '-s', '-screen 0 1280x800x24', BLENDER, ...args]] : [BLENDER, args];
    const { stdout } = await run(cmd as string, cmdArgs as string[], { env, maxBuffer: 64 * 1024 * 1024, timeout: 300_000 });
    const report = JSON.parse(await readFile(reportFile, 'utf8')) as T & { exception?: string };
    assert.equal(report.exception, undefined, `${report.exception}\n${stdout.slice(-4000)}`);
    assert.deepEqual((await readdir(join(work, 'tmp'))).filter((n) => n.startsWith('drover-submit-')), [], 'the staged copies are removed');
    return report;
  }

  before(async () => {
    farm = await startFarm({ agents: 0 }); // the agent starts once the originals are gone
    work = await mkdtemp(join(tmpdir(), 'drover-addon-'));
    blenderHome = join(work, 'blender-home');
    zip = join(work, 'drover_blender.zip');
    const written = await runCli(['blender-addon', '-o', zip]);
    assert.equal(written.code, 0, written.stderr);
    main = await makeScene(join(work, 'project'), { frames: [1, 2], texture: true, externalTexture: join(work, 'outside', 'wood.png') });
    await run(BLENDER, ['-b', '--factory-startup', '-noaudio', '--python-exit-code', '1', '--python', LINK_LIBRARY, '--', JSON.stringify({ main, library: join(work, 'shared', 'lib.blend') })]);
    await run(BLENDER, ['-b', main, '-noaudio', '-o', join(work, 'plain', 'frame_#####'), '-F', 'PNG', '-x', '1', '-f', '1,2'], { maxBuffer: 64 * 1024 * 1024 });
  });
  after(async () => {
    await farm?.stop();
    if (work && !process.env.DROVER_KEEP_TEST_DATA) await rm(work, { recursive: true, force: true });
  });

  test('the web app offers the same zip the CLI writes', async () => {
    const res = await fetch(`${farm.url}/api/v1/downloads/blender-addon.zip`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/zip');
    assert.ok(Buffer.from(await res.arrayBuffer()).equals(await readFile(zip)));

    // In the browser: the render form's "Blender add-on" link downloads it.
    buildWebApp();
    const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
    try {
      const page = await (await browser.newContext({ acceptDownloads: true })).newPage();
      page.setDefaultTimeout(30_000);
      await page.goto(farm.url);
      await page.getByLabel('Username').fill('admin');
      await page.getByLabel('Password').fill(ADMIN_PASSWORD);
      await page.getByTestId('sign-in').click();
      await page.getByTestId('jobs-page').waitFor();
      await page.getByTestId('new-job').click();
      await page.getByTestId('kind-render').click();
      const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('blender-addon-download').click()]);
      assert.equal(download.suggestedFilename(), 'drover_blender.zip');
      assert.ok((await readFile((await download.path())!)).equals(await readFile(zip)));
    } finally {
      await browser.close();
    }
  });

  test('submit, render on the farm, fetch: frames pixel-identical to plain Blender; errors a person can read', async () => {
    const missingScene = await makeScene(join(work, 'missing'), { name: 'missing', texture: true });
    await rm(join(work, 'missing', 'textures', 'checker.png'));

    const sub = await blenderPhase<SubmitReport>({ phase: 'submit', username: 'admin', password: ADMIN_PASSWORD, main, missing: missingScene });
    assert.match(sub.wrong_password, /Drover: .*(password|user)/i);
    assert.ok(sub.token.length > 10, 'signing in keeps a token');
    assert.equal(sub.password_kept, false);
    assert.match(sub.unsaved, /save the \.blend first/);
    assert.match(sub.missing_texture, /missing: image 'checker\.png': .*missing\/textures\/checker\.png/);
    assert.match(sub.wrong_token, /refused the token: sign in again/);
    assert.match(sub.unreachable, /Cannot reach the Drover farm at http:\/\/127\.0\.0\.1:9/);
    assert.deepEqual(sub.result, ['FINISHED']);
    assert.match(sub.job_id, /^j_/);
    assert.equal(sub.job_url, `${farm.url}/#/jobs/${sub.job_id}`);
    assert.equal(sub.status, 'queued');
    assert.equal(sub.paths_kept, true);
    // scene.blend (a copy with the absolute path made relative), checker.png, wood.png, lib.blend,
    // stripes.png: five files, four contents (make_scene.py draws both checkers alike).
    assert.deepEqual(sub.uploaded, [4, 5]);
    // Again: only the .blend copy travels (Blender writes a file anew on every save); the
    // textures and the library are on the farm already.
    assert.deepEqual(sub.again.uploaded, [1, 5], 'the second submission uploads only the new .blend copy');

    const token = await farm.adminToken();
    const job = await api<{ render: { frames: string; blend: string; frameCount: number } }>(farm.url, token, 'GET', `/jobs/${sub.job_id}`);
    assert.equal(job.body.render.frames, '1-2');
    assert.equal(job.body.render.blend, 'project/scene.blend', 'the project mirrors the folder holding the scene and every file it uses');
    await api(farm.url, token, 'POST', `/jobs/${sub.again.job_id}/stop`);

    // Nothing outside what was packed can be read from now on.
    await rename(join(work, 'outside'), join(work, 'outside-moved'));
    await rename(join(work, 'shared'), join(work, 'shared-moved'));
    farm.agents.push(await startAgent(farm.server, { name: 'agent-blender' }));
    const done = await eventually(async () => {
      const r = await api<{ status: string }>(farm.url, token, 'GET', `/jobs/${sub.job_id}`);
      return ['done', 'error', 'canceled'].includes(r.body.status) ? r.body.status : null;
    }, 300_000, 'the render job to end');
    assert.equal(done, 'done');

    const out = join(work, 'fetched');
    await mkdir(out);
    const fetched = await blenderPhase<FetchReport>({ phase: 'fetch', token: sub.token, job_id: sub.job_id, main, out });
    assert.equal(fetched.status, 'done');
    assert.deepEqual(fetched.frames, [2, 2]);
    assert.equal(fetched.default_dir, join(work, 'project', `drover-${sub.job_id}`));
    for (const dir of [out, fetched.default_dir]) {
      assert.deepEqual((await readdir(dir)).sort(), ['frame_00001.png', 'frame_00002.png']);
      for (const frame of ['frame_00001.png', 'frame_00002.png']) {
        const [got, want] = await Promise.all([decodePixels(join(dir, frame)), decodePixels(join(work, 'plain', frame))]);
        assert.equal(got.width, want.width);
        assert.ok(got.data.equals(want.data), `${dir}/${frame}: pixels differ from a plain Blender render`);
      }
    }
  });

  test('packing finds image sequences, UDIM tiles, sounds, fonts and cache folders, names what is missing, and makes absolute paths relative in the copy only', async () => {
    const packing = await blenderPhase<{ files: string[]; blend: string; missing: [string, string][]; absolute: string[]; left_absolute: string[]; paths_after_copy: string[]; copy_paths: string[] }>({ phase: 'packing', dir: join(work, 'packing') });
    assert.deepEqual(packing.files, [
      'elsewhere/Serif.ttf',
      'elsewhere/beep.wav',
      'project/cache/a.bphys',
      'project/cache/b.bphys',
      'project/seq/render_0001.png',
      'project/seq/render_0002.png',
      'project/seq/render_0003.png',
      'project/udim/wood.1001.png',
      'project/udim/wood.1002.png',
    ]);
    assert.equal(packing.blend, 'project/shot.blend');
    assert.deepEqual(packing.missing, [["image 'Gone'", join(work, 'packing', 'project', 'textures', 'gone.png')]]);
    assert.equal(packing.absolute.length, 2);
    assert.deepEqual(packing.left_absolute, []);
    const elsewhere = join(work, 'packing', 'elsewhere');
    assert.deepEqual(packing.paths_after_copy, [join(elsewhere, 'Serif.ttf'), join(elsewhere, 'beep.wav')], "the open file keeps its absolute paths");
    assert.deepEqual(packing.copy_paths, ['//../elsewhere/Serif.ttf', '//../elsewhere/beep.wav'], 'the copy sent names them relative to the .blend');
  });

  test('from the panel (Blender with its interface): works in the background, Cancel stops an upload midway, the panel follows the job to done', async () => {
    if (!farm.agents.length) farm.agents.push(await startAgent(farm.server, { name: 'agent-blender' }));
    const guiBlend = await makeScene(join(work, 'gui'), { name: 'gui', frames: [1, 1] });
    const gui = await blenderPhase<GuiReport>({ phase: 'gui', token: await farm.adminToken(), gui_blend: guiBlend }, true);
    assert.deepEqual(gui.first_invoke, ['RUNNING_MODAL'], 'a click starts the work and returns at once');
    assert.ok(gui.texts.some((t) => t.startsWith('Reading ')) && gui.texts.some((t) => /^Uploading \S+ \S+ of /.test(t)), gui.texts.join('\n'));
    assert.deepEqual(gui.cancel, ['FINISHED']);
    assert.deepEqual(gui.canceled, { code: 'canceled', job_id: '', paused_at: gui.canceled.paused_at }, 'canceled: no job');
    assert.deepEqual(gui.second_invoke, ['RUNNING_MODAL']);
    assert.equal(gui.followed.status, 'done');
    assert.deepEqual(gui.followed.frames, [1, 1]);
    assert.ok(gui.draws > 0, 'the panel was drawn');
    assert.deepEqual(gui.draw_errors, []);
    const token = await farm.adminToken();
    const jobs = await api<{ jobs: { id: string; name: string }[] }>(farm.url, token, 'GET', '/jobs?q=gui');
    assert.deepEqual(jobs.body.jobs.map((j) => j.id), [gui.followed.job_id], 'the canceled submission created no job');
  });
});
