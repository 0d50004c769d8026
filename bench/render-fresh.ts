// Render on a farm that has just started (issue #24's render goals): each round starts a new
// coordinator and agent, and the first `drover render` it sees is timed, with chunks of 5 and with
// one frame per task, against one plain `blender -b FILE -o OUT -f A..B` in the same round. Besides
// the whole command, it times the first frame: for Drover, from the command's start until the
// coordinator has a frame to download (the job's `render.lastFrame`); for plain Blender, until
// its first frame is on disk. Nothing is rendered on the farm before the timed command.
import { access, mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { runProcess } from '../src/process/run-process.js';
import { ADMIN_PASSWORD, runCli, startAgent, startServer } from '../test/helpers/farm.js';
import { BLENDER, makeScene } from '../test/helpers/scenes.js';
import { fmt, request, type Row } from './lib.js';

export interface FreshRenderOptions {
  frames: number;
  rounds: number;
  resolution: [number, number];
  samples: number;
}

interface Timing {
  wall: number;
  firstFrame: number;
}

/**
 * How often the first frame is looked for, for Drover and plain Blender alike (so both readings
 * are late by the same up to 50 ms). Every 10 ms, the job list asked of the coordinator took CPU
 * from the frames being timed on these 2 cores (about 140 requests before the first frame).
 */
const WATCH_MS = 50;

/** Polls until `found` says yes; the time (s, since `t0`) when it first did, or NaN if `until` settled first. */
async function watchFor(found: () => Promise<boolean>, t0: number, until: Promise<unknown>): Promise<number> {
  let over = false;
  void until.finally(() => (over = true)).catch(() => undefined);
  while (!over) {
    if (await found().catch(() => false)) return (performance.now() - t0) / 1000;
    await sleep(WATCH_MS);
  }
  return (await found().catch(() => false)) ? (performance.now() - t0) / 1000 : Number.NaN;
}

async function plainRun(blend: string, frames: number, out: string): Promise<Timing> {
  const t0 = performance.now();
  const run = runProcess(BLENDER, ['-b', blend, '-o', join(out, 'frame_####'), '-F', 'PNG', '-f', `1..${frames}`], { timeoutMs: 600_000 });
  const firstFrame = watchFor(() => access(join(out, 'frame_0001.png')).then(() => true), t0, run);
  const r = await run;
  if (r.code !== 0) throw new Error(`plain blender failed:\n${r.stdout.slice(-2000)}`);
  return { wall: (performance.now() - t0) / 1000, firstFrame: await firstFrame };
}

/** A new coordinator and agent (not timed), then the first render they see (timed). */
async function freshFarmRun(blend: string, frames: number, chunk: number, work: string, renderNode: boolean): Promise<Timing> {
  const cores = cpus().length;
  // One task at a time with every core, like the one plain Blender process.
  const server = await startServer({ args: ['--instance-cores', `s=${cores},m=${cores},l=${cores},xl=${cores}`] });
  try {
    // A render node starts its spare Blender as it joins (DROVER_WARM_SPARE=start); by default an
    // agent starts one only once it has rendered.
    const agent = await startAgent(server, { name: 'bench-agent', slots: cores, ...(renderNode ? { env: { DROVER_WARM_SPARE: 'start' } } : {}) });
    try {
      const env = { DROVER_CONFIG: join(server.dataDir, 'cli.json'), DROVER_SERVER: server.url, XDG_CACHE_HOME: await mkdtemp(join(work, 'cache-')) };
      const login = await runCli(['login', '-u', 'admin', '-p', ADMIN_PASSWORD], { env });
      if (login.code !== 0) throw new Error(`login failed: ${login.stderr}`);
      const { token } = await request<{ token: string }>(server.url, null, 'POST', '/auth/login', { username: 'admin', password: ADMIN_PASSWORD });
      const t0 = performance.now();
      const run = runCli(['render', blend, '--frames', `1-${frames}`, '--chunk', String(chunk), '--wait'], { env, timeoutMs: 900_000 });
      const firstFrame = watchFor(async () => {
        const { jobs } = await request<{ jobs: { render?: { lastFrame: unknown } }[] }>(server.url, token, 'GET', '/jobs?limit=1');
        return Boolean(jobs[0]?.render?.lastFrame);
      }, t0, run);
      const r = await run;
      if (r.code !== 0) throw new Error(`drover render failed:\n${r.stdout.slice(-2000)}\n${r.stderr.slice(-2000)}`);
      return { wall: (performance.now() - t0) / 1000, firstFrame: await firstFrame };
    } finally {
      await agent.kill('SIGINT');
    }
  } finally {
    await server.kill('SIGTERM');
    await rm(server.dataDir, { recursive: true, force: true });
  }
}

/**
 * The compiled `drover` (scripts/build-cli.mjs), built now if missing or stale: bin/drover.js
 * runs the sources through tsx otherwise, about 0.5 s more of every timed `drover render`, which
 * no installed drover pays.
 */
async function freshCliBuild(): Promise<void> {
  const script = fileURLToPath(new URL('../scripts/build-cli.mjs', import.meta.url));
  const r = await runProcess(process.execPath, [script], { timeoutMs: 300_000 });
  if (r.code !== 0) throw new Error(`building the CLI failed:\n${r.stdout}\n${r.stderr}`);
}

export async function freshRender(opts: FreshRenderOptions): Promise<{ rows: Row[]; commands: string[] }> {
  await freshCliBuild();
  const work = await mkdtemp(join(tmpdir(), 'drover-bench-fresh-'));
  const blend = await makeScene(join(work, 'project'), { frames: [1, opts.frames], resolution: opts.resolution, samples: opts.samples, engine: 'CYCLES' });
  const modes = {
    plain: 'plain blender, 1 process',
    chunk5: 'drover render, chunk 5, farm just started',
    chunk1: 'drover render, 1 frame per task, farm just started',
    node5: 'drover render, chunk 5, farm just started, render node (DROVER_WARM_SPARE=start)',
    node1: 'drover render, 1 frame per task, farm just started, render node (DROVER_WARM_SPARE=start)',
  } as const;
  const times: Record<keyof typeof modes, Timing[]> = { plain: [], chunk5: [], chunk1: [], node5: [], node1: [] };
  try {
    // Alternated within each round, so that load from other processes falls on every mode alike.
    for (let round = 0; round < opts.rounds; round++) {
      times.plain.push(await plainRun(blend, opts.frames, join(work, `plain-${round}`)));
      times.chunk5.push(await freshFarmRun(blend, opts.frames, 5, work, false));
      times.chunk1.push(await freshFarmRun(blend, opts.frames, 1, work, false));
      times.node5.push(await freshFarmRun(blend, opts.frames, 5, work, true));
      times.node1.push(await freshFarmRun(blend, opts.frames, 1, work, true));
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const plainWall = mean(times.plain.map((t) => t.wall));
  const plainFirst = mean(times.plain.map((t) => t.firstFrame));
  const rows = (Object.keys(modes) as (keyof typeof modes)[]).map((m) => {
    const wall = times[m].map((t) => t.wall);
    const first = times[m].map((t) => t.firstFrame);
    return {
      run: modes[m],
      frames: `${opts.frames} (${opts.resolution.join('×')}, Cycles ${opts.samples} spp)`,
      'wall s (each round)': wall.map((x) => fmt(x, 1)).join(', '),
      'mean s': fmt(mean(wall), 1),
      'vs plain': `${fmt(mean(wall) / plainWall, 2)}x`,
      'first frame s (each round)': first.map((x) => fmt(x, 2)).join(', '),
      'first frame vs plain': m === 'plain' ? '–' : `${mean(first) >= plainFirst ? '+' : ''}${fmt(mean(first) - plainFirst, 2)} s`,
    };
  });
  return {
    rows,
    commands: [
      `${BLENDER} -b scene.blend -o OUT/frame_#### -F PNG -f 1..${opts.frames}`,
      `drover render scene.blend --frames 1-${opts.frames} --chunk 5 --wait`,
      `drover render scene.blend --frames 1-${opts.frames} --chunk 1 --wait`,
      `(each drover run: a new drover server --instance-cores s=${cpus().length}… and drover agent --slots ${cpus().length}, started and joined before the clock starts; render node rows: the agent with DROVER_WARM_SPARE=start)`,
    ],
  };
}
