// Render overhead: the same frames rendered by `drover render` on one local agent and by one plain
// `blender -b FILE -o OUT -f A..B`. Plain and Drover runs alternate so that load from other
// processes on the machine falls on both alike; the ratio compares each mode with the plain mean.
// Each Drover run also says how long its job went on after its last chunk (the preview step: the
// job ends when its preview is made), from the job's own times: a cost of a few hundred ms that
// the wall times, which vary by seconds on a shared machine, cannot resolve.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { runProcess } from '../src/process/run-process.js';
import { ADMIN_PASSWORD, api, runCli, startAgent, startServer } from '../test/helpers/farm.js';
import { BLENDER, makeScene } from '../test/helpers/scenes.js';
import { fmt, type Row } from './lib.js';

export interface RenderBenchOptions {
  frames: number;
  chunk: number;
  rounds: number;
  resolution: [number, number];
  samples: number;
}

export async function renderOverhead(opts: RenderBenchOptions): Promise<{ rows: Row[]; commands: string[] }> {
  const work = await mkdtemp(join(tmpdir(), 'drover-bench-render-'));
  const cores = cpus().length;
  const blend = await makeScene(join(work, 'project'), { frames: [1, opts.frames], resolution: opts.resolution, samples: opts.samples, engine: 'CYCLES' });
  // One task at a time with every core, like the one plain Blender process.
  const server = await startServer({ args: ['--instance-cores', `s=${cores},m=${cores},l=${cores},xl=${cores}`] });
  const agent = await startAgent(server, { name: 'bench-agent', slots: cores });
  const env = { DROVER_CONFIG: join(server.dataDir, 'cli.json'), DROVER_SERVER: server.url };
  const login = await runCli(['login', '-u', 'admin', '-p', ADMIN_PASSWORD], { env });
  if (login.code !== 0) throw new Error(`login failed: ${login.stderr}`);
  const token = (JSON.parse(await readFile(env.DROVER_CONFIG, 'utf8')) as { token: string }).token;
  /** The newest job's time from its last chunk's end to its own (what its preview step added). */
  const afterLastChunk = async (): Promise<number> => {
    const { jobs } = (await api<{ jobs: { id: string; finishedAt: string | null }[] }>(server.url, token, 'GET', '/jobs?limit=1')).body;
    const job = jobs[0]!;
    const { tasks } = (await api<{ tasks: { finishedAt: string | null }[] }>(server.url, token, 'GET', `/jobs/${job.id}/tasks?limit=1000`)).body;
    const lastChunk = Math.max(...tasks.map((t) => Date.parse(t.finishedAt!)));
    return (Date.parse(job.finishedAt!) - lastChunk) / 1000;
  };
  // The agent renders one frame first, as an agent of a working farm has: it then keeps a spare
  // Blender ready for the next job (see docs/warm-sessions.md), which a brand-new agent has not.
  const warmUp = await runCli(['render', blend, '--frames', '1', '--wait'], { env, timeoutMs: 300_000 });
  if (warmUp.code !== 0) throw new Error(`the warm-up render failed:\n${warmUp.stderr.slice(-2000)}`);
  const plainArgs = (out: string) => ['-b', blend, '-o', join(out, 'frame_####'), '-F', 'PNG', '-f', `1..${opts.frames}`];
  const droverArgs = (cold: boolean) => ['render', blend, '--frames', `1-${opts.frames}`, '--chunk', String(opts.chunk), '--wait', ...(cold ? ['--cold'] : [])];
  // A first submission reads the scene with Blender in the CLI; a resubmission of the same file
  // finds that in the CLI's scene cache (XDG_CACHE_HOME). Each round starts with an empty cache.
  const modes = ['warm', 'again', 'cold'] as const;
  const times: Record<'plain' | (typeof modes)[number], number[]> = { plain: [], warm: [], again: [], cold: [] };
  const tails: Record<(typeof modes)[number], number[]> = { warm: [], again: [], cold: [] };
  try {
    for (let round = 0; round < opts.rounds; round++) {
      const out = join(work, `plain-${round}`);
      let t = performance.now();
      const plain = await runProcess(BLENDER, plainArgs(out), { timeoutMs: 600_000 });
      if (plain.code !== 0) throw new Error(`plain blender failed:\n${plain.stdout.slice(-2000)}`);
      times.plain.push((performance.now() - t) / 1000);
      const cache = await mkdtemp(join(work, 'cache-'));
      for (const mode of modes) {
        if (mode === 'cold') await rm(cache, { recursive: true, force: true });
        t = performance.now();
        const r = await runCli(droverArgs(mode === 'cold'), { env: { ...env, XDG_CACHE_HOME: cache }, timeoutMs: 900_000 });
        if (r.code !== 0) throw new Error(`drover render (${mode}) failed:\n${r.stdout.slice(-2000)}\n${r.stderr.slice(-2000)}`);
        times[mode].push((performance.now() - t) / 1000);
        tails[mode].push(await afterLastChunk());
      }
    }
  } finally {
    await agent.kill('SIGINT');
    await server.kill('SIGTERM');
    await rm(server.dataDir, { recursive: true, force: true });
    await rm(work, { recursive: true, force: true });
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const plainMean = mean(times.plain);
  const label = {
    plain: `plain blender, 1 process`,
    warm: `drover render, chunk ${opts.chunk} (warm), first submission`,
    again: `drover render, chunk ${opts.chunk} (warm), same file again`,
    cold: `drover render, chunk ${opts.chunk} --cold, first submission`,
  };
  const rows = (['plain', ...modes] as const).map((m) => ({
    run: label[m],
    frames: `${opts.frames} (${opts.resolution.join('×')}, Cycles ${opts.samples} spp)`,
    'wall s (each round)': times[m].map((x) => fmt(x, 1)).join(', '),
    'mean s': fmt(mean(times[m]), 1),
    'vs plain': `${fmt(mean(times[m]) / plainMean, 2)}x`,
    'job end after its last chunk s (each round)': m === 'plain' ? '–' : tails[m].map((x) => fmt(x, 3)).join(', '),
  }));
  return {
    rows,
    commands: [`${BLENDER} ${plainArgs('OUT').join(' ')}`, `drover ${droverArgs(false).join(' ')}`, `drover ${droverArgs(true).join(' ')}`, `(server: drover server --instance-cores s=${cores}…; agent: drover agent --slots ${cores})`],
  };
}
