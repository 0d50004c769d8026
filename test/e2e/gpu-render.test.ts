// The `gpu` instance type and Cycles on leased GPUs, with real agents and real Blender. There is no
// GPU on the test machines: a fake `nvidia-smi` on one agent's PATH stands in for detection (it
// lists one GPU, as the real one does with --query-gpu=index --format=csv,noheader), and the Blender
// side is checked by what render_setup.py says in the task log: it was told which GPU the task
// leased, set Cycles to it, and, finding no CUDA/OptiX device in this Blender, rendered on the CPU.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Farm, api, startAgent, startFarm } from '../helpers/farm.js';
import { makeWorkspace } from '../helpers/reliability.js';
import { makeScene } from '../helpers/scenes.js';

interface RenderJson {
  id: string;
  status: string;
  instanceType: string;
  tasks?: { id: string; index: number; status: string }[];
}

describe('gpu instance type and Cycles on GPUs', { timeout: 600_000 }, () => {
  let farm: Farm;
  let project: string;

  before(async () => {
    farm = await startFarm({ agents: 0 });
    const fake = await makeWorkspace({ 'bin/nvidia-smi': '#!/bin/sh\necho 0\n' });
    await chmod(join(fake, 'bin/nvidia-smi'), 0o755);
    farm.agents.push(await startAgent(farm.server, { name: 'plain', slots: 4 }));
    farm.agents.push(await startAgent(farm.server, { name: 'gpu-box', slots: 4, extraArgs: ['--label', 'box=gpu'], env: { PATH: `${join(fake, 'bin')}:${process.env.PATH}` } }));
    project = await mkdtemp(join(tmpdir(), 'drover-gpu-'));
    await makeScene(project, { frames: [1, 2], resolution: [32, 24], samples: 1, engine: 'CYCLES' });
  });
  after(async () => {
    await farm?.stop();
  });

  async function logsOf(id: string): Promise<string> {
    const r = await farm.cli(['job', 'logs', id]);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout;
  }

  test('-t gpu asks for one GPU: its render tasks run on the GPU agent, and Cycles is set to the GPU each leased', async () => {
    const r = await farm.cli(['render', project, '--frames', '1-2', '--chunk', '1', '-t', 'gpu', '-w', '--json'], { timeoutMs: 300_000 });
    assert.equal(r.code, 0, r.stderr);
    const job = JSON.parse((await farm.cli(['job', 'view', (JSON.parse(r.stdout) as RenderJson).id, '--json'])).stdout) as RenderJson;
    assert.equal(job.status, 'done');
    assert.equal(job.instanceType, 'gpu');
    const token = await farm.adminToken();
    for (const t of job.tasks!) {
      const { attempts } = (await api<{ attempts: { agent: string }[] }>(farm.url, token, 'GET', `/tasks/${t.id}`)).body;
      assert.deepEqual(attempts.map((a) => a.agent), ['gpu-box'], `task ${t.index}`);
    }
    const logs = await logsOf(job.id);
    // Twice: each task leased the agent's only GPU in turn.
    assert.equal(logs.match(/Drover: the task leased GPU 0 \(CUDA_VISIBLE_DEVICES=0\): setting Cycles to render on it/g)?.length, 2, logs);
    assert.match(logs, /Drover: this Blender finds no CUDA or OptiX device: rendering on the CPU/);
  });

  test('a render task that leased no GPU leaves Cycles as the file says, on the GPU agent too', async () => {
    const ok = await farm.cli(['render', project, '--frames', '1-2', '--chunk', '1', '-t', 'm', '--require', 'box=gpu', '-w', '--json'], { timeoutMs: 300_000 });
    assert.equal(ok.code, 0, ok.stderr);
    const logs = await logsOf((JSON.parse(ok.stdout) as RenderJson).id);
    assert.doesNotMatch(logs, /leased GPU/);
  });
});
