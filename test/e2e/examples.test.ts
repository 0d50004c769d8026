// The README's quick start and examples/README.md, every command as written, on a farm started with
// `npm start`: the commands are read from the Markdown itself, so the pages cannot drift from what
// works. The examples replay the original tutorial: a generated data file per frame, a zipped Blender
// project served over HTTP on 127.0.0.1, a task script that downloads it (script tasks have the
// network) and renders its frame, ten PNGs back through download-results.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ADMIN_PASSWORD, REPO, type CliResult, runCli } from '../helpers/farm.js';

/** The ```sh blocks of a Markdown text (of one section when `heading` is given), in order. */
function shellBlocks(markdown: string, heading?: string): string[] {
  let text = markdown;
  if (heading) {
    const start = text.indexOf(`\n${heading}\n`);
    assert.ok(start >= 0, `no section "${heading}"`);
    const end = text.indexOf('\n## ', start + heading.length + 2);
    text = text.slice(start, end < 0 ? undefined : end);
  }
  return [...text.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

interface JobJson {
  id: string;
  status: string;
  network: boolean;
  tasks: { index: number; status: string; warning: string | null }[];
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Width and height of a PNG file (its IHDR chunk), after checking it is one. */
async function pngSize(path: string): Promise<[number, number]> {
  const bytes = await readFile(path);
  assert.ok(bytes.subarray(0, 8).equals(PNG_SIGNATURE), `${path} is a PNG`);
  return [bytes.readUInt32BE(16), bytes.readUInt32BE(20)];
}

describe('the quick start and the examples, as written', { timeout: 900_000 }, () => {
  let farm: ChildProcess;
  let output = '';
  let url = '';
  let home: string;
  let data: string;

  /** Runs commands as one bash script, as a person would type them, from the checkout's root. */
  function shell(script: string): Promise<CliResult> {
    return new Promise((resolve, reject) => {
      const child = spawn('bash', ['-euo', 'pipefail', '-c', script], {
        cwd: REPO,
        // A fresh home (the CLI's sign-in, the results), the test farm's URL instead of :8686.
        env: personEnv(),
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d));
      child.stderr.on('data', (d: Buffer) => (stderr += d));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
      // `drover login` reads the password from stdin when it is not a terminal.
      child.stdin.end(`${ADMIN_PASSWORD}\n`);
    });
  }

  /** A fresh home (the CLI's sign-in and the results land there) and the test farm's URL instead of :8686. */
  function personEnv(): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...process.env, HOME: home, DROVER_SERVER: url, npm_config_update_notifier: 'false' };
    // Where the CLI would otherwise keep its sign-in, outside the fresh home.
    delete env.DROVER_CONFIG;
    delete env.XDG_CONFIG_HOME;
    return env;
  }

  const cli = (args: string[]) => runCli(args, { env: { HOME: home, DROVER_SERVER: url, DROVER_CONFIG: join(home, '.config', 'drover', 'config.json') } });

  /** The job folders under a results folder: script jobs (task-NNNN/ folders) and render jobs (frames/). */
  async function jobsIn(dir: string): Promise<{ script: string[]; render: string[] }> {
    const found = { script: [] as string[], render: [] as string[] };
    for (const name of await readdir(dir).catch(() => [])) {
      if (!/^j_/.test(name)) continue;
      const inside = await readdir(join(dir, name));
      if (inside.includes('frames')) found.render.push(name);
      else if (inside.includes('task-0001')) found.script.push(name);
    }
    return found;
  }

  async function jobView(id: string): Promise<JobJson> {
    const r = await cli(['job', 'view', id, '--json']);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as JobJson;
  }

  before(async () => {
    home = await mkdtemp(join(tmpdir(), 'drover-home-'));
    data = await mkdtemp(join(tmpdir(), 'drover-up-'));
    // The README's own start command; options pass through npm as the README says.
    farm = spawn('npm', ['start', '--', '--port', '0', '--data', data], {
      cwd: REPO,
      env: { ...process.env, DROVER_ADMIN_PASSWORD: ADMIN_PASSWORD, npm_config_update_notifier: 'false' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // its own process group: npm, drover up and its agent stop together
    });
    const seen = new Promise<void>((resolve, reject) => {
      const onData = (d: Buffer) => {
        output += d;
        if (process.env.DROVER_TEST_VERBOSE) process.stderr.write(d);
        url ||= output.match(/listening on (http:\/\/\S+)/)?.[1] ?? '';
        if (url && /joined /.test(output)) resolve();
      };
      farm.stdout!.on('data', onData);
      farm.stderr!.on('data', onData);
      farm.on('exit', () => reject(new Error(`npm start exited:\n${output}`)));
    });
    await seen;
  });

  after(async () => {
    if (farm?.pid && farm.exitCode === null) {
      const exited = new Promise((resolve) => farm.once('exit', resolve));
      process.kill(-farm.pid, 'SIGINT'); // what Ctrl-C sends: agents give tasks back, then the coordinator stops
      await exited;
    }
    if (!process.env.DROVER_KEEP_TEST_DATA) {
      await rm(home, { recursive: true, force: true });
      await rm(data, { recursive: true, force: true });
    }
  });

  test("the README's quick start: a script job and a render job, results downloaded", async () => {
    const readme = await readFile(join(REPO, 'README.md'), 'utf8');
    const blocks = shellBlocks(readme, '## Quick start');
    // `npm start` is what started this farm; `npm test` is the suite this test belongs to.
    const script = blocks.join('\n').split('\n').filter((line) => !/^npm (start|test)\b/.test(line)).join('\n');
    assert.match(script, /npx drover login/);
    const r = await shell(script);
    assert.equal(r.code, 0, `quick start failed:\n${r.stdout}\n${r.stderr}`);

    const results = join(home, 'drover-results');
    const jobs = await jobsIn(results);
    assert.equal(jobs.script.length, 1);
    assert.equal(jobs.render.length, 1);
    const [hello, render] = [jobs.script[0], jobs.render[0]];
    for (const n of [1, 2, 3]) {
      const words = JSON.parse(await readFile(join(results, hello!, `task-000${n}`, 'words.json'), 'utf8')) as { input: string; words: number };
      assert.equal(words.input, `poem_${n}.txt`);
      assert.ok(words.words > 20);
    }
    assert.equal((await jobView(hello!)).status, 'done');
    const frames = (await readdir(join(results, render!, 'frames'))).filter((f) => f.endsWith('.png')).sort();
    assert.deepEqual(frames, Array.from({ length: 10 }, (_, i) => `frame_${String(i + 1).padStart(5, '0')}.png`));
    assert.deepEqual(await pngSize(join(results, render!, 'frames', frames[0]!)), [320, 180]);
  });

  test('examples/README.md: the tutorial replayed, ten frames back as PNGs', async () => {
    const results = join(home, 'drover-results');
    const before = await jobsIn(results);
    const page = await readFile(join(REPO, 'examples', 'README.md'), 'utf8');
    const r = await shell(shellBlocks(page).join('\n'));
    assert.equal(r.code, 0, `examples failed:\n${r.stdout}\n${r.stderr}`);
    assert.doesNotMatch(r.stderr, /warning: \d+ task\(s\)/, 'no task ended without results');

    const tutorial = join(home, 'drover-tutorial');
    assert.equal((await readdir(join(tutorial, 'jobs'))).length, 10, 'the generator wrote a data file per frame');
    const [id, ...others] = (await jobsIn(join(tutorial, 'results'))).script;
    assert.equal(others.length, 0);
    const view = await jobView(id!);
    assert.equal(view.status, 'done');
    assert.equal(view.network, true, 'script tasks have the network by default');
    assert.deepEqual(view.tasks.map((t) => t.status), Array(10).fill('done'));
    assert.deepEqual(view.tasks.map((t) => t.warning), Array(10).fill(null));

    // Again through `drover job download-results`, into a folder of its own.
    const again = join(home, 'downloaded');
    const dl = await cli(['job', 'download-results', id!, '-d', again]);
    assert.equal(dl.code, 0, dl.stderr);
    for (let n = 1; n <= 10; n++) {
      const task = `task-${String(n).padStart(4, '0')}`;
      const frame = `frame_${String(n).padStart(5, '0')}.png`;
      const png = join(again, id!, task, frame);
      assert.deepEqual(await pngSize(png), [320, 180], `${task} rendered its own frame ${n}`);
      assert.ok((await readFile(png)).equals(await readFile(join(tutorial, 'results', id!, task, frame))));
      assert.match(await readFile(join(again, id!, task, 'stdout.txt'), 'utf8'), /Processing http:\/\/127\.0\.0\.1:8765\/project\.zip[\s\S]*Blender Processing Completed/);
    }
    // Neighbouring frames differ: the cube turns.
    assert.ok(!(await readFile(join(again, id!, 'task-0001', 'frame_00001.png'))).equals(await readFile(join(again, id!, 'task-0010', 'frame_00010.png'))));

    // A confined task's python3 imports what scripts/setup.sh installs.
    const [check] = (await jobsIn(join(home, 'drover-python-check'))).script;
    const imports = JSON.parse(await readFile(join(home, 'drover-python-check', check!, 'task-0001', 'imports.json'), 'utf8')) as { python: string; found: Record<string, string>; missing: string[] };
    assert.equal(imports.python, '/usr/bin/python3', "the agent machine's system Python");
    assert.deepEqual(Object.keys(imports.found).sort(), ['numpy', 'requests']);

    // The job bundle: every frame rendered by its own task, then the video of them by the step after.
    const templates = join(home, 'drover-templates');
    const [bundleJob, ...more] = await readdir(templates);
    assert.equal(more.length, 0);
    const bundleView = await jobView(bundleJob!);
    assert.equal(bundleView.status, 'done');
    const outputs = join(templates, bundleJob!, 'outputs', 'OutputDir');
    assert.deepEqual((await readdir(outputs)).sort(), [...Array.from({ length: 10 }, (_, i) => `frame_${String(i + 1).padStart(4, '0')}.png`), 'video.mp4']);
    assert.deepEqual(await pngSize(join(outputs, 'frame_0010.png')), [320, 180]);
    assert.ok((await stat(join(outputs, 'video.mp4'))).size > 1000);

    // The hello job and the render job of the examples page landed beside the quick start's.
    const now = await jobsIn(results);
    assert.equal(now.script.length, before.script.length + 1);
    const render = now.render.find((j) => !before.render.includes(j));
    assert.ok(render, 'a new render job');
    assert.ok((await stat(join(results, render, 'frames', 'frame_00010.png'))).size > 1000);
  });
});
