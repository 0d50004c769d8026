// Submission and API: a 10,000-frame render job submitted through POST /jobs; job view and task
// pages with 100,000 tasks in the store (p50/p99); the coordinator's memory.
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeScene } from '../test/helpers/scenes.js';
import { nextLeaseRequest } from '../src/agent/protocol.js';
import { SimAgent, fmt, hasBatchEndpoint, mib, percentile, procSample, request, sleep, scriptJobSpec, startCoordinator, upload, type Leased, type Row } from './lib.js';

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t = performance.now();
  const v = await fn();
  return [v, performance.now() - t];
}

/** An OpenJD template: a Frame * Camera step of `tasks - 2` tasks, then a step of two (one per camera) after it. */
function templateSpec(i: number, tasks: number) {
  const frames = (tasks - 2) / 2;
  return {
    kind: 'template',
    template: {
      specificationVersion: 'jobtemplate-2023-09',
      name: `bench template ${i} {{Param.Shot}}`,
      parameterDefinitions: [
        { name: 'Shot', type: 'STRING', default: 'sh010' },
        { name: 'Frames', type: 'STRING', default: `1-${frames}` },
      ],
      steps: [
        {
          name: 'Render',
          parameterSpace: {
            taskParameterDefinitions: [
              { name: 'Frame', type: 'INT', range: '{{Param.Frames}}' },
              { name: 'Camera', type: 'STRING', range: ['left', 'right'] },
            ],
            combination: 'Frame * Camera',
          },
          script: { actions: { onRun: { command: 'echo', args: ['{{Param.Shot}} {{Task.Param.Frame}} {{Task.Param.Camera}}'] } } },
        },
        {
          name: 'Encode',
          dependencies: [{ dependsOn: 'Render' }],
          parameterSpace: { taskParameterDefinitions: [{ name: 'Camera', type: 'STRING', range: ['left', 'right'] }] },
          script: { actions: { onRun: { command: 'echo', args: ['{{Task.Param.Camera}}'] } } },
        },
      ],
    },
    start: false,
  };
}

export async function apiBench(opts: { renderFrames: number; totalTasks: number; finished: number; samples: number; templateTasks: number; idleSeconds: number }): Promise<Row[]> {
  const work = await mkdtemp(join(tmpdir(), 'drover-bench-api-'));
  const c = await startCoordinator();
  const rows: Row[] = [];
  try {
    const blend = await makeScene(join(work, 'project'), { frames: [1, 10] });
    const blendSha = await upload(c, c.admin, await readFile(blend));
    const renderSpec = (i: number) => ({ kind: 'render', name: `bench render ${i}`, project: { files: [{ path: 'scene.blend', sha256: blendSha }], blend: 'scene.blend' }, frames: `1-${opts.renderFrames}`, chunk: 1, start: false });
    const submits: number[] = [];
    let renderJob = '';
    for (let i = 0; i < 3; i++) {
      const [job, ms] = await timed(() => request<{ id: string; taskCount: number }>(c.url, c.admin, 'POST', '/jobs', renderSpec(i)));
      if (job.taskCount !== opts.renderFrames) throw new Error(`render job has ${job.taskCount} tasks`);
      submits.push(ms);
      renderJob = job.id;
    }
    rows.push({ what: `POST /jobs: render job, ${fmt(opts.renderFrames)} frames (chunk 1 → ${fmt(opts.renderFrames)} tasks)`, result: `${submits.map((m) => fmt(m)).join(', ')} ms (3 runs)`, goal: '< 1 s' });

    // Fill the store to `totalTasks` with script jobs (one, or as many as the per-job limit of
    // 100,000 tasks asks for) and run `finished` of their tasks to the end.
    const inStore = 3 * opts.renderFrames;
    const jobsToFill = Math.ceil((opts.totalTasks - inStore) / 100_000);
    const scriptTasks = Math.floor((opts.totalTasks - inStore) / jobsToFill);
    let job = { id: '' };
    const fills: number[] = [];
    for (let i = 0; i < jobsToFill; i++) {
      const spec = await scriptJobSpec(c, c.admin, scriptTasks, `bench api ${i}`);
      const [made, ms] = await timed(() => request<{ id: string }>(c.url, c.admin, 'POST', '/jobs', spec));
      job = made;
      fills.push(ms);
    }
    rows.push({ what: `POST /jobs: script job, ${fmt(scriptTasks)} inputs${jobsToFill > 1 ? ` (${jobsToFill} such jobs)` : ''}`, result: `${fills.map((m) => fmt(m)).join(', ')} ms`, goal: '' });
    const batch = await hasBatchEndpoint(c);
    const agents = Array.from({ length: 4 }, (_, i) => new SimAgent(c.url, `sim-${i}`, 100));
    for (const a of agents) {
      await a.register(c.joinToken);
      a.batchEndpoint = batch;
    }
    await upload(c, agents[0]!.token, Buffer.alloc(0));
    let done = 0;
    // As the real agent with 100 slots: report what ended and lease the next in one request.
    const wish = nextLeaseRequest({ slots: 100, usedCores: 0, held: 0, holding: 0, prefetch: 0, prefetchAsked: false });
    await Promise.all(
      agents.map(async (a) => {
        let tasks: Leased[] = await a.ask([], wish);
        while (tasks.length > 0) {
          done += tasks.length;
          tasks = await a.ask(tasks, done < opts.finished ? wish : null);
        }
      }),
    );
    const what = `${fmt(opts.totalTasks)} tasks in the store (${fmt(done)} done with attempts and files)`;

    const measure = async (label: string, path: () => string) => {
      const ms: number[] = [];
      for (let i = 0; i < opts.samples; i++) ms.push((await timed(() => request(c.url, c.admin, 'GET', path())))[1]);
      rows.push({ what: `${label}, ${what}`, result: `p50 ${fmt(percentile(ms, 50), 1)} ms, p99 ${fmt(percentile(ms, 99), 1)} ms (${opts.samples} requests)`, goal: '' });
    };
    await measure(`GET /jobs/:id (job view, ${fmt(scriptTasks)}-task script job)`, () => `/jobs/${job.id}`);
    await measure(`GET /jobs/:id (job view, ${fmt(opts.renderFrames)}-frame render job)`, () => `/jobs/${renderJob}`);
    await measure('GET /jobs/:id/tasks?offset=random&limit=100', () => `/jobs/${job.id}/tasks?offset=${Math.floor(Math.random() * (scriptTasks - 100))}&limit=100`);
    await measure('GET /jobs (list, 50 per page)', () => `/jobs`);
    // Right after the requests, V8 still holds the garbage of the submissions and reads in heap it
    // has grown; its memory reducer gives that back once the process has been idle for some 10-30 s
    // (a heap snapshot taken then: 28 MiB of live JavaScript objects). The resident cost of a
    // million stored tasks is the idle reading; the other two show what a burst of work adds.
    const busy = procSample(c.pid);
    await sleep(opts.idleSeconds * 1000);
    const idle = procSample(c.pid);
    rows.push({
      what: `coordinator memory, ${what}: RSS after ${opts.idleSeconds} s idle; right after the requests above; peak since start`,
      result: `RSS ${mib(idle.rssBytes)} idle; ${mib(busy.rssBytes)} right after; peak ${mib(idle.hwmBytes)}`,
      goal: '< 400 MiB idle',
    });

    // A template job of two steps (the second waiting for the first) expanding to `templateTasks`
    // tasks: checked, expanded, and stored in one transaction. Measured last: it grows the store.
    const templateSubmits: number[] = [];
    for (let i = 0; i < 3; i++) {
      const [tjob, tms] = await timed(() => request<{ taskCount: number }>(c.url, c.admin, 'POST', '/jobs', templateSpec(i, opts.templateTasks)));
      if (tjob.taskCount !== opts.templateTasks) throw new Error(`template job has ${tjob.taskCount} tasks`);
      templateSubmits.push(tms);
    }
    rows.push({
      what: `POST /jobs: template job, ${fmt(opts.templateTasks)} tasks (a ${fmt(opts.templateTasks - 2)}-task Frame * Camera step, then a 2-task step after it)`,
      result: `${templateSubmits.map((m) => fmt(m)).join(', ')} ms (3 runs)`,
      goal: '< 1 s',
    });
    return rows;
  } finally {
    await c.stop();
    await rm(work, { recursive: true, force: true });
  }
}
