// `drover fleet --provider local` against a real coordinator: no agents without work, grows to
// --max for a burst, the job completes, shrinks back to none once idle (the agent processes really
// gone), and exits 0 on SIGTERM. Waits are `eventually`, never timing assertions.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, REPO, api, eventually, runCli, startServer, type TestServer } from '../helpers/farm.js';
import { parse as parseYaml } from 'yaml';
import { parseMetrics, type Sample } from '../../src/fleet/prometheus.js';

const TASKS = 12;
const MAX = 3;

interface JobJson {
  id: string;
  status: string;
  counts: Record<string, number>;
}

interface Worker {
  name: string;
  status: string;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function onlineAgents(url: string): Promise<number> {
  const samples = parseMetrics(await (await fetch(`${url}/metrics`)).text());
  const online = samples.find((s) => s.name === 'drover_agents' && s.labels.status === 'online');
  assert.ok(online, 'drover_agents{status="online"} is exported');
  return online.value;
}

/** Whether each `name{label="v"|=~"a|b"}` selector of a PromQL query selects series of `samples`, per alternative. */
function checkSelectors(query: string, samples: readonly Sample[]): void {
  const selectors = [...query.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}/g)];
  assert.ok(selectors.length > 0, `selectors in ${query}`);
  for (const [, name, matchers] of selectors) {
    const series = samples.filter((s) => s.name === name);
    assert.ok(series.length > 0, `/metrics exports ${name}`);
    for (const [, label, op, value] of matchers!.matchAll(/(\w+)\s*(=~|=)\s*"([^"]*)"/g)) {
      const wanted = op === '=' ? [value!] : value!.split('|');
      for (const v of wanted) assert.ok(series.some((s) => s.labels[label!] === v), `/metrics has ${name}{${label}="${v}"}`);
    }
  }
}

describe('drover fleet with local agents', { timeout: 600_000 }, () => {
  let server: TestServer;
  let work: string;
  let fleet: ChildProcess;
  let output = '';
  const cli = (args: string[]) => runCli(args, { env: { DROVER_CONFIG: join(work, 'cli.json'), DROVER_SERVER: server.url } });
  /** The agents the fleet reported starting: name → pid. */
  const started = () => new Map([...output.matchAll(/started agent (fleet-\d+) \(pid (\d+)\)/g)].map((m) => [m[1]!, Number(m[2])]));

  before(async () => {
    server = await startServer();
    work = await mkdtemp(join(tmpdir(), 'drover-fleet-'));
    const login = await cli(['login', '-u', 'admin', '-p', server.adminPassword]);
    assert.equal(login.code, 0, login.stderr);
    fleet = spawn(
      process.execPath,
      [BIN, 'fleet', '--server', server.url, '--provider', 'local', '--min', '0', '--max', String(MAX), '--idle', '3', '--interval', '1', '--slots', '1', '--data', join(work, 'fleet')],
      { cwd: REPO, env: { ...process.env, DROVER_AGENT_TOKEN: server.joinToken }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const collect = (d: Buffer) => {
      output += d;
      if (process.env.DROVER_TEST_VERBOSE) process.stderr.write(d);
    };
    fleet.stdout!.on('data', collect);
    fleet.stderr!.on('data', collect);
  });

  after(async () => {
    // Whatever happened, leave no process behind: the fleet, its agents, the coordinator.
    if (fleet && fleet.exitCode === null && fleet.signalCode === null) fleet.kill('SIGKILL');
    for (const pid of started().values()) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
    await server?.kill('SIGTERM');
    if (!process.env.DROVER_KEEP_TEST_DATA) {
      await rm(work, { recursive: true, force: true });
      await rm(server.dataDir, { recursive: true, force: true });
    }
  });

  test('no work: no agents', async () => {
    // Its first decisions have been made once it logged one, and a few more intervals pass.
    await eventually(async () => /hold: 0 queued tasks, 0 running need 0 agents/.test(output), 60_000, 'the first decision');
    await new Promise((r) => setTimeout(r, 3000));
    assert.equal(started().size, 0, output);
    assert.equal(await onlineAgents(server.url), 0);
  });

  test('the KEDA ScaledObject queries series this coordinator really exports', async () => {
    const scaled = parseYaml(await readFile(join(REPO, 'deploy/kubernetes/scaledobject.yaml'), 'utf8')) as { spec: { triggers: { metadata: { query: string } }[] } };
    const samples = parseMetrics(await (await fetch(`${server.url}/metrics`)).text());
    for (const trigger of scaled.spec.triggers) checkSelectors(trigger.metadata.query, samples);
  });

  test('a burst grows the fleet to max, the job completes with all results, idle shrinks it to none, SIGTERM exits 0', async () => {
    const ws = join(work, 'ws');
    await mkdir(join(ws, 'in'), { recursive: true });
    await writeFile(join(ws, 'work.sh'), 'sleep 2\nmkdir -p run-result\necho "did $(basename "$1")" > run-result/out.txt\n');
    for (let i = 1; i <= TASKS; i++) await writeFile(join(ws, 'in', `part-${i}.txt`), `${i}\n`);
    const created = await cli(['job', 'create', '-n', 'burst', '-s', join(ws, 'work.sh'), '-i', join(ws, 'in/*.txt'), '-t', 's', '-r', '--json']);
    assert.equal(created.code, 0, created.stderr);
    const job = JSON.parse(created.stdout) as JobJson;

    // Grows to max: the fleet says so, and the coordinator lists that many fleet agents online.
    const token = (JSON.parse(await readFile(join(work, 'cli.json'), 'utf8')) as { token: string }).token;
    let mostOnline = 0;
    await eventually(
      async () => {
        const online = await onlineAgents(server.url);
        mostOnline = Math.max(mostOnline, online);
        const { body } = await api<{ workers: Worker[] }>(server.url, token, 'GET', '/workers');
        return started().size >= MAX && body.workers.filter((w) => w.name.startsWith('fleet-') && w.status === 'online').length === MAX;
      },
      180_000,
      `${MAX} fleet agents online\n${output}`,
    );
    assert.deepEqual([...started().keys()].sort(), ['fleet-1', 'fleet-2', 'fleet-3']);

    // The token never shows: not in the fleet's output, not on an agent's command line.
    assert.ok(!output.includes(server.joinToken), 'the fleet never prints the join token');
    for (const pid of started().values()) {
      const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
      assert.ok(!cmdline.includes(server.joinToken), 'the join token is not on an agent command line');
    }

    const done = await eventually(
      async () => {
        mostOnline = Math.max(mostOnline, await onlineAgents(server.url));
        const view = JSON.parse((await cli(['job', 'view', job.id, '--json'])).stdout) as JobJson;
        return view.status === 'done' || view.status === 'error' ? view : null;
      },
      300_000,
      `job ${job.id} to finish\n${output}`,
    );
    assert.equal(done.status, 'done');
    assert.equal(done.counts.done, TASKS);
    assert.ok(mostOnline <= MAX, `never more than ${MAX} agents online (saw ${mostOnline})`);

    const results = join(work, 'results');
    const dl = await cli(['job', 'download-results', job.id, '-d', results]);
    assert.equal(dl.code, 0, dl.stderr);
    const folders = (await readdir(join(results, job.id))).filter((f) => f.startsWith('task-')).sort();
    assert.equal(folders.length, TASKS);
    const outs = await Promise.all(folders.map((f) => readFile(join(results, job.id, f, 'out.txt'), 'utf8')));
    assert.deepEqual(outs.sort(), Array.from({ length: TASKS }, (_, i) => `did part-${i + 1}.txt\n`).sort());

    // Idle: every agent the fleet started drains and its process is gone; none is online.
    const pids = [...started().values()];
    await eventually(
      async () => {
        const exited = [...started().keys()].every((name) => new RegExp(`agent ${name} \\(pid \\d+\\) exited`).test(output));
        return exited && pids.every((pid) => !isAlive(pid)) && (await onlineAgents(server.url)) === 0;
      },
      120_000,
      `the fleet to shrink to 0\n${output}`,
    );
    assert.match(output, /stop \d: no queued work for 3s/);
    assert.equal([...output.matchAll(/started agent /g)].length, MAX, 'each agent was started once, none after the burst');

    const code = await new Promise<number | null>((resolve) => {
      fleet.once('exit', (c) => resolve(c));
      fleet.kill('SIGTERM');
    });
    assert.equal(code, 0, output);
    assert.match(output, /all agents stopped/);
  });
});
