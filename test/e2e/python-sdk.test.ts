// The Python SDK (python/drover) against a real farm, with the system's python3: the checks live in
// test/e2e/python/sdk_checks.py (unittest); this file starts the farm, makes the scene and runs them.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Farm, REPO, startFarm } from '../helpers/farm.js';
import { makeScene } from '../helpers/scenes.js';

const PYTHON = '/usr/bin/python3';

function run(cmd: string, args: string[], env: Record<string, string>, cwd = REPO): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d));
    child.stderr.on('data', (d: Buffer) => (output += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, output }));
  });
}

describe('Python SDK on a real farm', { timeout: 900_000 }, () => {
  let farm: Farm;
  let env: Record<string, string>;
  const temporary: string[] = [];
  const tempDir = async (prefix: string) => {
    const dir = await mkdtemp(join(tmpdir(), prefix));
    temporary.push(dir);
    return dir;
  };
  before(async () => {
    farm = await startFarm({ agents: 1, slots: 2 });
    await farm.userCli('sdkother');
    const sceneDir = await tempDir('drover-sdk-scene-');
    await makeScene(sceneDir, { texture: true, frames: [1, 2] });
    env = {
      DROVER_CONFIG: join(farm.dataDir, 'cli-admin.json'),
      DROVER_SERVER: farm.url,
      SDK_OTHER_CONFIG: join(farm.dataDir, 'cli-sdkother.json'),
      SDK_SCENE_DIR: sceneDir,
      PYTHONDONTWRITEBYTECODE: '1',
    };
  });
  after(async () => {
    await farm?.stop();
    if (!process.env.DROVER_KEEP_TEST_DATA) for (const dir of temporary) await rm(dir, { recursive: true, force: true });
  });

  test('every SDK method against the farm (unittest with the system python3)', async () => {
    const { code, output } = await run(PYTHON, [join(REPO, 'test/e2e/python/sdk_checks.py')], { ...env, PYTHONPATH: join(REPO, 'python') });
    assert.equal(code, 0, output);
    // unittest says how many ran: a file that silently ran nothing would not be a pass.
    assert.match(output, /Ran 11 tests/, output);
    assert.match(output, /\nOK\n?$/, output);
  });

  test("the README's Python example runs as written", async () => {
    const readme = await readFile(join(REPO, 'README.md'), 'utf8');
    const example = /<!-- sdk-example[^>]*-->\n```python\n([\s\S]*?)```/.exec(readme)?.[1];
    assert.ok(example, 'README.md has the marked Python example');
    const dir = await tempDir('drover-sdk-example-');
    await writeFile(join(dir, 'example.py'), example);
    const { code, output } = await run(PYTHON, ['example.py'], { DROVER_CONFIG: env.DROVER_CONFIG!, PYTHONPATH: join(REPO, 'python') }, dir);
    assert.equal(code, 0, output);
    assert.match(output, /^j_\S+ done\n\['1', '4', '9', '16', '25'\]\n$/, output);
  });

  test('pip installs ./python, with its py.typed marker', async () => {
    const venv = await tempDir('drover-sdk-venv-');
    // --system-site-packages and --no-build-isolation: setuptools comes from Debian, no index is reachable.
    assert.equal((await run(PYTHON, ['-m', 'venv', '--system-site-packages', venv], {})).code, 0);
    // From a copy: pip builds in the source tree (build/, *.egg-info), which must not litter the checkout.
    const source = join(venv, 'src');
    await cp(join(REPO, 'python'), source, { recursive: true });
    const pip = await run(join(venv, 'bin/pip'), ['install', '--no-index', '--no-build-isolation', source], {});
    assert.equal(pip.code, 0, pip.output);
    const check = await run(
      join(venv, 'bin/python'),
      ['-c', 'import drover, os, pathlib; print(drover.Client().me()["name"]); print(pathlib.Path(drover.__file__).parent.joinpath("py.typed").exists())'],
      { DROVER_CONFIG: env.DROVER_CONFIG!, DROVER_SERVER: farm.url },
      venv, // not the repository: the import must come from the installed package
    );
    assert.equal(check.code, 0, check.output);
    assert.equal(check.output.trim(), 'admin\nTrue');
  });
});
