// How long an urgent job waits on a busy farm: a priority-90 job of one task submitted while two
// real agents run a priority-10 job of 2 s tasks, with and without prefetch. Measured from the
// coordinator's createdAt of the urgent job to the moment its task's process started (it prints
// the clock; same machine). The goal of issue 18: at most one running task's length plus 1 s.
// Records, does not assert. Usage: node --import tsx bench/urgent.ts
import { mkdtemp, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir, loadavg } from 'node:os';
import { join } from 'node:path';
import { api, eventually, startFarm } from '../test/helpers/farm.js';

const TASK_SECONDS = 2;

async function measure(prefetch: number): Promise<number[]> {
  const farm = await startFarm({ agents: 2, slots: 1, ...(prefetch > 0 ? { agentArgs: ['--prefetch', String(prefetch)] } : {}) });
  try {
    const ws = await mkdtemp(join(tmpdir(), 'drover-urgent-'));
    await writeFile(join(ws, 'slow.sh'), `sleep ${TASK_SECONDS}\n`);
    await writeFile(join(ws, 'urgent.sh'), 'date +%s.%N\n');
    await mkdir(join(ws, 'in'));
    for (let i = 1; i <= 60; i++) await writeFile(join(ws, 'in', `${i}.txt`), String(i));
    await writeFile(join(ws, 'x.txt'), 'x');
    const bg = await farm.cli(['job', 'create', '-n', 'background', '-s', join(ws, 'slow.sh'), '-i', join(ws, 'in/*.txt'), '--priority', '10', '-r', '--json']);
    if (bg.code !== 0) throw new Error(bg.stderr);
    const token = await farm.adminToken();
    const bgId = (JSON.parse(bg.stdout) as { id: string }).id;
    await eventually(async () => (await api<{ counts: { running: number } }>(farm.url, token, 'GET', `/jobs/${bgId}`)).body.counts.running >= 2, 30_000, 'the farm to be busy');
    const waits: number[] = [];
    for (let round = 0; round < 3; round++) {
      // Land at a different point of the running tasks each round.
      await new Promise((r) => setTimeout(r, 1500 + round * 700));
      const r = await farm.cli(['job', 'create', '-n', 'urgent', '-s', join(ws, 'urgent.sh'), '-i', join(ws, 'x.txt'), '--priority', '90', '-r', '-w', '--json']);
      if (r.code !== 0) throw new Error(r.stderr);
      const job = JSON.parse(r.stdout) as { id: string; createdAt: string };
      const results = (await api<{ tasks: { files: { path: string; sha256: string }[] }[] }>(farm.url, token, 'GET', `/jobs/${job.id}/results`)).body;
      const stdout = results.tasks[0]!.files.find((f) => f.path === 'stdout.txt')!;
      const text = await (await fetch(`${farm.url}/api/v1/jobs/${job.id}/files/${stdout.sha256}`, { headers: { authorization: `Bearer ${token}` } })).text();
      waits.push(Number(text.trim()) * 1000 - Date.parse(job.createdAt));
    }
    return waits;
  } finally {
    await farm.stop();
  }
}

const load = loadavg().map((x) => x.toFixed(1)).join(' / ');
const rows: string[] = [];
for (const prefetch of [0, 2]) {
  const waits = await measure(prefetch);
  rows.push(`| ${prefetch} | ${waits.map((w) => (w / 1000).toFixed(2)).join(', ')} | ${(Math.max(...waits) / 1000).toFixed(2)} | ${TASK_SECONDS + 1} |`);
  console.log(rows.at(-1));
}
console.log(`\n## Urgent job on a busy farm — ${new Date().toISOString()}\n`);
console.log(`- Command: \`node --import tsx bench/urgent.ts\`; load average at start ${load}`);
console.log(`- 2 real agents of 1 slot busy with a priority-10 job of ${TASK_SECONDS} s tasks; a priority-90 job of one task submitted 3 times; wait = its createdAt to its process's first line\n`);
console.log('| agent --prefetch | waits s | worst s | goal s |\n|---:|---|---:|---:|');
for (const r of rows) console.log(r);
