// One user submits a huge job: a 1,000,000-frame render job, chunk 1 (1,000,000 tasks, with the
// per-job task limit raised to allow it, and the one task of its preview step). Meanwhile another
// client keeps asking the coordinator (GET /jobs and /healthz, one request every 25 ms): their latency while the job is accepted and
// while it is stopped, and the coordinator's memory before, at its peak and after.
// Run alone: node --import tsx bench/huge-job.ts [--frames 1000000]
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeScene } from '../test/helpers/scenes.js';
import { fmt, mib, percentile, procSample, request, sleep, startCoordinator, upload, type Row } from './lib.js';

/** Asks `paths` in turn every `everyMs` until stopped; returns each path's latencies (ms). */
function probe(url: string, token: string, paths: string[], everyMs = 25) {
  const samples = new Map<string, number[]>(paths.map((p) => [p, []]));
  const failures: string[] = [];
  let running = true;
  const loop = (async () => {
    for (let i = 0; running; i++) {
      const path = paths[i % paths.length]!;
      const t = performance.now();
      try {
        if (path === '/healthz') await fetch(`${url}/healthz`).then((r) => r.arrayBuffer());
        else await request(url, token, 'GET', path);
      } catch (e) {
        failures.push(`${path}: ${(e as Error).message} after ${fmt(performance.now() - t)} ms`);
        await sleep(everyMs);
        continue;
      }
      samples.get(path)!.push(performance.now() - t);
      await sleep(everyMs);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      if (failures.length) throw new Error(`${failures.length} requests failed: ${failures.slice(0, 5).join('; ')}`);
      return samples;
    },
  };
}

const describe = (ms: number[]) => `p50 ${fmt(percentile(ms, 50), 1)} ms, p99 ${fmt(percentile(ms, 99), 1)} ms, max ${fmt(Math.max(...ms), 1)} ms (${ms.length} requests)`;

export async function hugeJobBench(opts: { frames: number }): Promise<Row[]> {
  const work = await mkdtemp(join(tmpdir(), 'drover-bench-huge-'));
  // A render job is its frame chunks plus the one task of its preview step.
  const tasks = opts.frames + 1;
  const c = await startCoordinator({ env: { DROVER_MAX_TASKS_PER_JOB: String(tasks) } });
  const rows: Row[] = [];
  try {
    const blend = await makeScene(join(work, 'project'), { frames: [1, 10] });
    const sha = await upload(c, c.admin, await readFile(blend));
    // The other client is a plain user: its requests are what the huge job must not hold up.
    await request(c.url, c.admin, 'POST', '/users', { name: 'other', password: 'other-password-1' });
    const other = (await request<{ token: string }>(c.url, null, 'POST', '/auth/login', { username: 'other', password: 'other-password-1' })).token;
    const before = procSample(c.pid);

    const during = probe(c.url, other, ['/jobs', '/healthz']);
    const t = performance.now();
    const job = await request<{ id: string; taskCount: number }>(c.url, c.admin, 'POST', '/jobs', { kind: 'render', name: 'huge', project: { files: [{ path: 'scene.blend', sha256: sha }], blend: 'scene.blend' }, frames: `1-${opts.frames}`, chunk: 1, start: true });
    const acceptMs = performance.now() - t;
    const created = await during.stop();
    if (job.taskCount < opts.frames) throw new Error(`the job has ${job.taskCount} tasks`);
    const peak = procSample(c.pid);
    rows.push({ what: `POST /jobs: render job of ${fmt(opts.frames)} frames, chunk 1 (${fmt(tasks)} tasks with the preview)`, result: `${fmt(acceptMs)} ms`, goal: '' });
    rows.push({ what: 'meanwhile, GET /jobs (another user, every 50 ms)', result: describe(created.get('/jobs')!), goal: 'p99 < 100 ms' });
    rows.push({ what: 'meanwhile, GET /healthz (every 50 ms)', result: describe(created.get('/healthz')!), goal: 'max < 50 ms' });

    const stopping = probe(c.url, other, ['/jobs', '/healthz']);
    const s = performance.now();
    await request(c.url, c.admin, 'POST', `/jobs/${job.id}/stop`);
    const stopMs = performance.now() - s;
    await sleep(2000); // the queued tasks are canceled in batches after the answer
    const stopped = await stopping.stop();
    rows.push({ what: `POST /jobs/:id/stop of that job`, result: `${fmt(stopMs)} ms`, goal: '' });
    rows.push({ what: 'meanwhile (and 2 s after), GET /jobs', result: describe(stopped.get('/jobs')!), goal: 'p99 < 100 ms' });
    rows.push({ what: 'meanwhile (and 2 s after), GET /healthz', result: describe(stopped.get('/healthz')!), goal: 'max < 50 ms' });
    await sleep(10_000);
    const after = procSample(c.pid);
    rows.push({ what: 'coordinator memory: before, peak, 10 s after the stop', result: `RSS ${mib(before.rssBytes)}, peak ${mib(peak.hwmBytes)}, then ${mib(after.rssBytes)}`, goal: '' });
    return rows;
  } catch (e) {
    // The coordinator's own last words say why a request was cut off.
    throw new Error(`${(e as Error).message}\ncoordinator output (last 3,000 characters):\n${c.output().slice(-3000)}`, { cause: e });
  } finally {
    await c.stop();
    await rm(work, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const i = process.argv.indexOf('--frames');
  const frames = i >= 0 ? Number(process.argv[i + 1]) : 1_000_000;
  for (const row of await hugeJobBench({ frames })) console.log(`${row.what}: ${row.result}${row.goal ? `  [goal ${row.goal}]` : ''}`);
}
