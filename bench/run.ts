// `npm run bench [-- SECTION… --option value…]`: runs the benchmarks, prints their tables and
// appends them, with the date, the machine and the exact command, to bench/RESULTS.md (append only:
// other sections of the file, e.g. the warm-Blender one, are never touched).
//   sections: dispatch scale scale10k render render-fresh api huge (default: all; render runs render-fresh too)
//   --tasks 20000 --agents 8 --batch 64        dispatch
//   --backlog 1000                             dispatch, scale: rows with that many unrunnable jobs queued ahead (0: none)
//   --scale-agents 1000 --scale-tasks 20000 --task-ms 200 --prefetch 3 --warm-tasks 4000 --scale-runs 3
//   --big-agents 10000 --big-tasks 100000 --big-task-ms 2000 --big-prefetch 3 --big-lease-seconds 120 --big-give-up 10   scale10k (a row gives up after 10 × its ideal time)
//   --render-frames 40 --chunk 5 --rounds 2          render, render-fresh
//   --api-tasks 100000 --render-job-frames 10000 --api-finished 10000 --samples 100 --template-tasks 100000 --api-idle 60
//   --huge-frames 1000000                      huge
//   --no-record                                print only
import { appendFile, readFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { apiBench } from './api.js';
import { hugeJobBench } from './huge-job.js';
import { bullmqDispatch, bullmqUnavailable, droverDispatch, graphileWorkerDispatch, pgBossDispatch, startRedis } from './dispatch.js';
import { BACKLOG_NOTE } from './backlog.js';
import { fmt, machine, table, type Row } from './lib.js';
import { renderOverhead } from './render.js';
import { freshRender } from './render-fresh.js';
import { medianOf, scale, scaleFloor } from './scale.js';
import { SCALE_10K_NOTE, scale10kFloor, scale10kPostgres, scale10kSqlite } from './scale-10k.js';
import { postgresUnavailable, startPostgres } from '../test/helpers/postgres.js';

const RESULTS = fileURLToPath(new URL('./RESULTS.md', import.meta.url));
const argv = process.argv.slice(2);
const FLAGS = new Set(['--no-record', '--per-task']);
const sections = argv.filter((a, i) => !a.startsWith('--') && !(argv[i - 1]?.startsWith('--') && !FLAGS.has(argv[i - 1]!)));
const opt = (name: string, fallback: number) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : fallback;
};
const want = (s: string) => sections.length === 0 || sections.includes(s);
const record = !argv.includes('--no-record');
/** Jobs of mixed priorities and requirements queued ahead in the backlog rows of dispatch and scale (0: no such rows). */
const backlog = opt('backlog', 1000);
const command = `npm run bench${argv.length ? ` -- ${argv.join(' ')}` : ''}`;

const out: string[] = [];
const emit = (text: string) => {
  console.log(text);
  out.push(text);
};
const load = () => loadavg().map((x) => x.toFixed(1)).join(' / ');

const m = machine();
const started = new Date();
emit(`\n## Benchmarks of ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC (bench/run.ts)\n`);
emit(`- Machine: ${m.nproc} cores (\`nproc\`), ${m.memory} memory, CPU "${m.cpu}", ${m.os}, Node ${m.node}`);
emit(`- Command: \`${command}\``);
emit(`- Load average (1/5/15 min) when it started: ${load()} — the cores are shared with other developers' test runs, so compare rows measured in the same run`);

try {
  if (want('dispatch')) {
    const o = { tasks: opt('tasks', 20_000), agents: opt('agents', 8), batch: opt('batch', 64) };
    emit(`\n### Dispatch throughput: ${o.tasks} no-op tasks, ${o.agents} simulated agents (load at start ${load()})\n`);
    emit('Drover: the full agent protocol over HTTP against a `drover server` process (register, long-poll lease, completions with the empty stdout/stderr blob uploaded once; each simulated agent leases and reports over its own kept-alive HTTP/1.1 connection, requests written raw), job created through POST /api/v1/jobs with one input per task. pg-boss: `insert` then `work({batchSize})` workers; graphile-worker: `addJobs` then one runner per agent (`concurrency` = batch, `localQueue.size` = batch, completions batched); BullMQ: `addBulk` then Workers. *dispatch s* runs from the job (or the queue) being filled until the last task is reported done.\n');
    const rows: Row[] = [];
    rows.push(await droverDispatch('Drover, SQLite', o));
    if (backlog) rows.push(await droverDispatch('Drover, SQLite, backlog', { ...o, backlog }));
    if (argv.includes('--per-task')) rows.push(await droverDispatch('Drover, SQLite', { ...o, perTask: true }));
    const pgProblem = postgresUnavailable();
    if (pgProblem) emit(`PostgreSQL rows skipped: ${pgProblem}`);
    else {
      const pg = await startPostgres();
      try {
        rows.push(await droverDispatch('Drover, PostgreSQL 15', o, await pg.createDatabase('drover_bench')));
        if (backlog) rows.push(await droverDispatch('Drover, PostgreSQL 15, backlog', { ...o, backlog }, await pg.createDatabase('drover_bench_backlog')));
        rows.push(await pgBossDispatch(o, await pg.createDatabase('boss_bench')));
        rows.push(await graphileWorkerDispatch(o, await pg.createDatabase('graphile_bench')));
      } finally {
        await pg.stop();
      }
    }
    const noClient = bullmqUnavailable();
    if (noClient) rows.push({ system: 'BullMQ 6 (Redis 7)', protocol: `not run: ${noClient}` });
    else {
      const redis = await startRedis();
      try {
        rows.push(await bullmqDispatch(o, redis.port, redis.pid));
      } finally {
        await redis.stop();
      }
    }
    for (const r of rows) delete r._handled;
    if (backlog) emit(`${BACKLOG_NOTE}\n`);
    emit(table(rows));
    emit(`\nFor scale: OpenCue's published stress test dispatched 975 frames/s.`);
  }
  if (want('scale')) {
    const o = { agents: opt('scale-agents', 1000), tasks: opt('scale-tasks', 20_000), taskMs: opt('task-ms', 200), prefetch: opt('prefetch', 3) };
    const warmTasks = opt('warm-tasks', 4000);
    const runs = opt('scale-runs', 3);
    emit(`\n### Scale: ${o.agents} simulated agents (one process), ${o.tasks} tasks of ${o.taskMs} ms (load at start ${load()})\n`);
    emit(
      `Each agent has 1 slot and its own kept-alive HTTP/1.1 connection (requests written raw: node:http's client was most of this process's CPU). One task at a time: long-poll lease of 1 task, sleep, report it and lease the next in the same request (the agent idles meanwhile). Cold: the coordinator's first job. Warm: the same agents first ran a job of ${warmTasks} tasks on the same coordinator, as on a farm that has been up (V8 has compiled the lease and report paths by then: the last agent's first task started 129–209 ms after the POST warm against 197–286 ms cold, in 5 pairs alternated in one session); measured from the second job's POST. Prefetch ${o.prefetch}: the agent also holds up to ${o.prefetch} leased tasks and starts the next the moment one ends; its requests are the real agent's (\`drover agent --prefetch\`, built by src/agent/protocol.ts): every task ended meanwhile reported with, in the same request, a lease for now when it has nothing to run, or else an ask to hold ${o.prefetch} minus what it holds, once per task ending, saying how many it holds (the coordinator fills an agent's hold up to its slot, one waiting task and its share of the queue: 1 + 1 + ⌊queued / online agents⌋). Ideal time = ceil(tasks/agents) × task time. First task starts: after the job's POST was answered (the floor: after its start signal), the median agent's and the last agent's. Idle between tasks: per agent, the time between one task's end and the next one's start, summed, averaged over agents. Tasks per agent: the fewest and the most one agent ran (ideal: all the same; the job ends with the agents that ran most). Last task ends: when the last task's run ended, after the job's POST; the rest of the measured time is reporting it (the job ends when the agents have heard every result accepted). Coordinator CPU and RSS from /proc/PID/stat and /proc/PID/status, sampled every 100 ms while the job ran. The warm and floor rows each show the median of ${runs} runs by efficiency (all of them listed beside it). The floor row runs the same agents against \`bench/canned-coordinator.ts\` (canned answers on node:http, no store, no validation): the most this harness reaches on this machine.\n`,
    );
    if (backlog) emit(`${BACKLOG_NOTE}\n`);
    const backlogRows = backlog ? [await scale({ ...o, prefetch: 0, backlog }), await scale({ ...o, backlog })] : [];
    // The backlog's rows on PostgreSQL too, each beside its flat row (cold, a fresh database each);
    // run before the floor row, whose canned coordinator is killed under agents still polling it.
    const pgRows: Row[] = [];
    if (backlog && !postgresUnavailable()) {
      const pg = await startPostgres();
      try {
        for (const [i, variant] of [{ prefetch: 0 }, { prefetch: 0, backlog }, {}, { backlog }].entries()) pgRows.push(await scale({ ...o, ...variant, db: await pg.createDatabase(`drover_scale_${i}`) }));
      } finally {
        await pg.stop();
      }
    }
    emit(table([await scale({ ...o, prefetch: 0 }), await scale(o), ...backlogRows, await medianOf(runs, () => scale({ ...o, warmTasks })), await medianOf(runs, () => scaleFloor(o))]));
    if (pgRows.length > 0) emit(`\nThe same on PostgreSQL 15 (a fresh database for each row):\n\n${table(pgRows)}`);
  }
  if (want('scale10k')) {
    const o = { agents: opt('big-agents', 10_000), tasks: opt('big-tasks', 100_000), taskMs: opt('big-task-ms', 2000), prefetch: opt('big-prefetch', 3), leaseSeconds: opt('big-lease-seconds', 120), giveUpAfter: opt('big-give-up', 10) };
    emit(`\n### Scale to ${fmt(o.agents)} agents (one process), ${fmt(o.tasks)} tasks of ${fmt(o.taskMs)} ms (load at start ${load()})\n`);
    emit(SCALE_10K_NOTE(o));
    const rows = [await scale10kSqlite(o)];
    const pgProblem = postgresUnavailable();
    if (pgProblem) emit(`PostgreSQL row skipped: ${pgProblem}`);
    else {
      const pg = await startPostgres();
      try {
        rows.push(await scale10kPostgres(o, await pg.createDatabase('drover_bench_10k')));
      } finally {
        await pg.stop();
      }
    }
    rows.push(await scale10kFloor(o));
    emit(table(rows));
  }
  if (want('render')) {
    const o = { frames: opt('render-frames', 40), chunk: opt('chunk', 5), rounds: opt('rounds', 2), resolution: [opt('width', 320), opt('height', 180)] as [number, number], samples: opt('samples', 16) };
    emit(`\n### Render overhead: ${o.frames} frames, chunks of ${o.chunk}, ${o.rounds} rounds (load at start ${load()})\n`);
    emit('Each drover run is the whole `drover render … --wait` command, from its start (reading the scene, hashing and uploading the project) to its exit. The CLI posts the job with the settings read from the .blend\'s bytes; Blender reads the file for the warnings beside it, at low priority (about 0.7 s of CPU; submitting the same file again takes that from the CLI\'s scene cache). Before the rounds the agent renders one frame, as an agent of a working farm has; it then keeps a spare Blender started while idle, which the next job\'s first task loads its project into.\n');
    const r = await renderOverhead(o);
    emit(table(r.rows));
    emit(`\nCommands:\n${r.commands.map((c) => `- \`${c}\``).join('\n')}`);
  }
  if (want('render') || want('render-fresh')) {
    const o = { frames: opt('render-frames', 40), rounds: opt('rounds', 2), resolution: [opt('width', 320), opt('height', 180)] as [number, number], samples: opt('samples', 16) };
    emit(`\n### Render on a farm that has just started: ${o.frames} frames, ${o.rounds} rounds (load at start ${load()})\n`);
    emit("Each round starts a new coordinator and agent (not timed; the agent has joined) and times the first `drover render … --wait` they see, from the command's start (reading the scene, hashing and uploading the project) to its exit: nothing was rendered on that farm before. First frame: Drover's, when the coordinator has a frame to download (the job's `render.lastFrame`, polled every 50 ms); plain Blender's, when its first frame is on disk (looked for every 50 ms too). The modes alternate within each round.\n");
    const r = await freshRender(o);
    emit(table(r.rows));
    emit(`\nCommands:\n${r.commands.map((c) => `- \`${c}\``).join('\n')}`);
  }
  if (want('api')) {
    const o = { totalTasks: opt('api-tasks', 100_000), renderFrames: opt('render-job-frames', 10_000), finished: opt('api-finished', 10_000), samples: opt('samples', 100), templateTasks: opt('template-tasks', 100_000), idleSeconds: opt('api-idle', 60) };
    emit(`\n### Submission and API with ${o.totalTasks} tasks in the store (SQLite; load at start ${load()})\n`);
    emit(table(await apiBench(o)));
  }
  if (want('huge')) {
    const frames = opt('huge-frames', 1_000_000);
    emit(`\n### A huge job: ${frames} tasks accepted and stopped while another user is served (SQLite; load at start ${load()})\n`);
    emit(table(await hugeJobBench({ frames })));
  }
} finally {
  emit(`\n(finished ${new Date().toISOString().slice(0, 19)}Z, ${((Date.now() - started.getTime()) / 1000).toFixed(0)} s; load average at the end ${load()})`);
  if (record) {
    let existing = '';
    try {
      existing = await readFile(RESULTS, 'utf8');
    } catch {
      existing = '';
    }
    const header = existing ? '' : '# Drover benchmarks\n\nAppended by `npm run bench` (bench/run.ts); other sections (e.g. bench/render-warm.ts) are written by their own scripts. Numbers are as measured.\n';
    await appendFile(RESULTS, `${header}${out.join('\n')}\n`);
  }
}
process.exit(0);
