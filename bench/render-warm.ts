// The warm-session render benchmark (run on demand, it takes minutes):
//
//   node --import tsx bench/render-warm.ts [--frames 100] [--resolution 320x240] [--samples 16] [--skip-cold]
//
// Renders the same generated scene three ways and compares wall-clock times:
//   plain  one `blender -b FILE -noaudio -o OUT -F PNG -x 1 -t N -f 1..FRAMES` (the yardstick)
//   warm   a render job, one frame per task (--chunk 1), on one agent with warm sessions
//   cold   the same job with --cold: one Blender process per task
// A job is timed from its start (POST /jobs/:id/start, project already uploaded) until it is
// done. The agent has all N cores and tasks take all N (--instance-cores s=N), so every way
// renders one frame at a time with N threads. The coordinator's and the agent's own CPU time during
// each job show what Drover takes from Blender's cores. Prints a table and appends it to
// bench/RESULTS.md (not with --skip-cold, which is for quick checks).
import { execFile } from 'node:child_process';
import { appendFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, hostname, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { api, REPO, runCli, startAgent, startServer } from '../test/helpers/farm.js';
import { sampleProcess } from './lib.js';
import { BLENDER, makeScene } from '../test/helpers/scenes.js';

const run = promisify(execFile);

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const frames = Number(option('frames', '100'));
// 320x240 at 16 samples is the reference frame (about 0.2-0.6 s here; cold per-task Blender
// about 5x plain). Smaller frames show the fixed cost per task more: try --resolution 96x72.
const [width, height] = option('resolution', '320x240').split('x').map(Number) as [number, number];
const samples = Number(option('samples', '16'));
const cores = availableParallelism();

async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const start = performance.now();
  const value = await fn();
  return [(performance.now() - start) / 1000, value];
}

async function main(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'drover-bench-warm-'));
  const project = join(work, 'project');
  const blend = await makeScene(project, { frames: [1, frames], resolution: [width, height], samples, texture: true });
  console.log(`scene: ${frames} frames, ${width}x${height}, ${samples} samples (Cycles, CPU), ${cores} cores`);

  // The yardstick is timed right before and right after the warm job and averaged: on a shared
  // machine the load drifts within minutes, and a single plain run would skew the ratio.
  const plainRun = async () =>
    (
      await timed(() =>
        run(BLENDER, ['-b', blend, '-noaudio', '-o', join(work, 'plain', 'frame_#####'), '-F', 'PNG', '-x', '1', '-t', String(cores), '-f', `1..${frames}`], { maxBuffer: 256 * 1024 * 1024 }),
      )
    )[0];
  const plainBefore = await plainRun();
  console.log(`plain Blender: ${plainBefore.toFixed(1)} s`);
  let plain = plainBefore;

  const server = await startServer({ args: ['--instance-cores', `s=${cores}`] });
  const agent = await startAgent(server, { name: 'bench', slots: cores });
  const env = { DROVER_CONFIG: join(server.dataDir, 'cli.json'), DROVER_SERVER: server.url };
  try {
    const login = await runCli(['login', '-u', 'admin', '-p', server.adminPassword], { env });
    if (login.code !== 0) throw new Error(login.stderr);
    const token = (JSON.parse(await readFile(env.DROVER_CONFIG, 'utf8')) as { token: string }).token;
    const job = async (extra: string[]): Promise<{ seconds: number; coordinatorCpu: number; agentCpu: number }> => {
      const created = await runCli(['render', project, '--frames', `1-${frames}`, '--chunk', '1', '--hold', '--json', ...extra], { env, timeoutMs: 300_000 });
      if (created.code !== 0) throw new Error(created.stderr);
      const { id } = JSON.parse(created.stdout) as { id: string };
      const coordinator = sampleProcess(server.proc.pid!);
      const agentProc = sampleProcess(agent.proc.pid!);
      const [seconds] = await timed(async () => {
        await api(server.url, token, 'POST', `/jobs/${id}/start`);
        for (;;) {
          const { body } = await api<{ status: string }>(server.url, token, 'GET', `/jobs/${id}`);
          if (body.status === 'done') return;
          if (['error', 'stopped'].includes(body.status)) throw new Error(`job ${id} ended ${body.status}`);
          await new Promise((r) => setTimeout(r, 100));
        }
      });
      const result = { seconds, coordinatorCpu: coordinator.stop().cpuSeconds, agentCpu: agentProc.stop().cpuSeconds };
      // The coordinator encodes the job's H.264 preview after it is done: let it finish before the
      // next measurement rather than have ffmpeg compete with it.
      const until = Date.now() + 180_000;
      while (Date.now() < until && !(await api<{ render?: { preview?: unknown } }>(server.url, token, 'GET', `/jobs/${id}`)).body.render?.preview) {
        await new Promise((r) => setTimeout(r, 250));
      }
      return result;
    };
    const cpuNote = (r: { coordinatorCpu: number; agentCpu: number }) => `coordinator ${r.coordinatorCpu.toFixed(1)} CPU-s, agent ${r.agentCpu.toFixed(1)} CPU-s`;
    const warmRun = await job([]);
    const warm = warmRun.seconds;
    const plainAfter = await plainRun();
    plain = (plainBefore + plainAfter) / 2;
    console.log(`plain Blender again: ${plainAfter.toFixed(1)} s (mean ${plain.toFixed(1)} s)`);
    console.log(`warm sessions: ${warm.toFixed(1)} s (${(warm / plain).toFixed(2)}x plain; ${cpuNote(warmRun)})`);
    if (process.argv.includes('--skip-cold')) return;
    const coldRun = await job(['--cold']);
    const cold = coldRun.seconds;
    console.log(`cold (--cold): ${cold.toFixed(1)} s (${cpuNote(coldRun)})`);

    const load = loadavg().map((l) => l.toFixed(1)).join(' ');
    const rows = [
      ['way', 'seconds', 'per frame', 'vs plain', 'coordinator + agent CPU'],
      [`plain blender -f 1..N (mean of ${plainBefore.toFixed(1)} s before and ${plainAfter.toFixed(1)} s after warm)`, plain.toFixed(1), `${((plain / frames) * 1000).toFixed(0)} ms`, '1.00x', '–'],
      ['warm, 1 frame/task', warm.toFixed(1), `${((warm / frames) * 1000).toFixed(0)} ms`, `${(warm / plain).toFixed(2)}x`, cpuNote(warmRun)],
      ['cold, 1 frame/task', cold.toFixed(1), `${((cold / frames) * 1000).toFixed(0)} ms`, `${(cold / plain).toFixed(2)}x`, cpuNote(coldRun)],
    ];
    const table = rows.map((r) => `| ${r.join(' | ')} |`);
    table.splice(1, 0, '|---|---:|---:|---:|---|');
    console.log(`\n${table.join('\n')}\n`);

    const command = `node --import tsx bench/render-warm.ts ${process.argv.slice(2).join(' ')}`.trim();
    const section = [
      `## Warm render sessions — ${new Date().toISOString()}`,
      '',
      `- Command: \`${command}\``,
      `- Machine: ${hostname()}, ${cpus()[0]?.model ?? 'unknown CPU'}, ${cores} cores, ${Math.round(totalmem() / 1024 ** 3)} GB, load average before the last run ${load}`,
      `- Scene: ${frames} frames, ${width}x${height}, ${samples} samples, Cycles on the CPU (Blender from ${BLENDER}); one agent, ${cores} slots, tasks of ${cores} cores`,
      '',
      ...table,
      '',
    ].join('\n');
    const results = join(REPO, 'bench', 'RESULTS.md');
    await mkdir(join(REPO, 'bench'), { recursive: true });
    // Append only: other benchmarks keep their own sections in the same file.
    const exists = await stat(results).then(() => true, () => false);
    if (!exists) await writeFile(results, '# Benchmark results\n\n');
    await appendFile(results, `${section}\n`);
    console.log(`appended to ${results}`);
  } finally {
    await agent.kill('SIGINT');
    await server.kill('SIGTERM');
    await rm(server.dataDir, { recursive: true, force: true });
    await rm(work, { recursive: true, force: true });
  }
}

await main();
