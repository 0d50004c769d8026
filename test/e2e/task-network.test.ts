// Who gets the network, end to end: script tasks have it unless their job opts out (--no-network),
// render tasks only when their job asks, and a farm started with --task-network deny gives it to no
// task and refuses jobs that ask. Host tasks run confined with bubblewrap (the agent's default), so
// "no network" is real: the task's 127.0.0.1 is its own loopback, not the host's. Containers follow
// the same rule in containers.test.ts.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ADMIN_PASSWORD, type ManagedProcess, type TestServer, runCli, startAgent, startServer } from '../helpers/farm.js';
import { makeScene } from '../helpers/scenes.js';

/** Connects to the test's TCP server on the host's 127.0.0.1 and keeps what it said. */
const PROBE_SCRIPT = `
import json, os, socket, sys
port = int(open(sys.argv[1]).read())
try:
    s = socket.create_connection(('127.0.0.1', port), timeout=5)
    got = s.recv(100).decode()
    s.close()
except OSError as e:
    got = 'ERR ' + type(e).__name__
os.makedirs('run-result', exist_ok=True)
json.dump({'got': got}, open('run-result/net.json', 'w'))
print(got)
`;

const GREETING = 'hello from the host';

interface JobJson {
  id: string;
  status: string;
  network: boolean;
}

describe('task network access', { timeout: 300_000 }, () => {
  let tcp: Server;
  let port: number;
  let ws: string;
  let blend: string;
  const farms: { server: TestServer; agent?: ManagedProcess }[] = [];

  async function farm(args: string[], withAgent: boolean) {
    const server = await startServer({ args });
    const cli = (a: string[]) => runCli(a, { env: { DROVER_CONFIG: join(server.dataDir, 'cli-admin.json'), DROVER_SERVER: server.url } });
    assert.equal((await cli(['login', '-u', 'admin', '-p', ADMIN_PASSWORD])).code, 0);
    const agent = withAgent ? await startAgent(server, { name: 'confined' }) : undefined;
    if (agent) assert.match(agent.output(), /host tasks are confined with bubblewrap/, 'this test needs bubblewrap confinement');
    farms.push({ server, ...(agent ? { agent } : {}) });
    return { server, cli };
  }

  async function probe(cli: (a: string[]) => ReturnType<typeof runCli>, flags: string[]): Promise<{ job: JobJson; got: string }> {
    const r = await cli(['job', 'create', '-n', 'net', '-s', join(ws, 'probe.py'), '-i', join(ws, 'port.txt'), ...flags, '--max-attempts', '1', '-r', '-w', '--json']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const job = JSON.parse(r.stdout) as JobJson;
    const out = await mkdtemp(join(tmpdir(), 'drover-results-'));
    assert.equal((await cli(['job', 'download-results', job.id, '-d', out])).code, 0);
    const { got } = JSON.parse(await readFile(join(out, job.id, 'task-0001', 'net.json'), 'utf8')) as { got: string };
    await rm(out, { recursive: true, force: true });
    return { job, got };
  }

  before(async () => {
    tcp = createServer((socket) => socket.end(GREETING));
    await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
    port = (tcp.address() as { port: number }).port;
    ws = await mkdtemp(join(tmpdir(), 'drover-net-'));
    await writeFile(join(ws, 'probe.py'), PROBE_SCRIPT);
    await writeFile(join(ws, 'port.txt'), String(port));
    blend = await makeScene(join(ws, 'scene'), { frames: [1, 2] });
  });
  after(async () => {
    for (const f of farms) {
      await f.agent?.kill('SIGINT');
      await f.server.kill('SIGTERM');
      if (!process.env.DROVER_KEEP_TEST_DATA) await rm(f.server.dataDir, { recursive: true, force: true });
    }
    tcp?.close();
    await rm(ws, { recursive: true, force: true });
  });

  test('script tasks have the network by default; --no-network takes it away; render tasks have it only when asked', async () => {
    const { cli } = await farm([], true);
    const open = await probe(cli, []);
    assert.equal(open.job.network, true);
    assert.equal(open.got, GREETING, 'a script task reaches a server on the host');
    assert.match((await cli(['job', 'view', open.job.id])).stdout, /^network: yes/m);

    const closed = await probe(cli, ['--no-network']);
    assert.equal(closed.job.network, false);
    assert.match(closed.got, /^ERR /, 'without the network the host is out of reach');
    assert.match((await cli(['job', 'view', closed.job.id])).stdout, /^network: none/m);

    const render = await cli(['render', blend, '--hold', '--json']);
    assert.equal(render.code, 0, render.stderr);
    assert.equal((JSON.parse(render.stdout) as JobJson).network, false, 'a render job has no network unless it asks');
    const asked = await cli(['render', blend, '--hold', '--network', '--json']);
    assert.equal(asked.code, 0, asked.stderr);
    assert.equal((JSON.parse(asked.stdout) as JobJson).network, true);

    const workers = await cli(['worker', 'list']);
    assert.match(workers.stdout, /TASK NETWORK[\s\S]*confined\s.*\byes\s+per job\b/);
    assert.match(workers.stdout, /task network: script tasks have it unless their job says --no-network/);
  });

  test('--task-network deny: no task has the network, and a job asking for it is refused whole', async () => {
    const { cli } = await farm(['--task-network', 'deny'], true);
    const plain = await probe(cli, []);
    assert.equal(plain.job.network, false);
    assert.match(plain.got, /^ERR /, 'the farm keeps the task off the network');

    const before = JSON.parse((await cli(['job', 'list', '--json'])).stdout) as JobJson[];
    const refused = await cli(['job', 'create', '-n', 'wants-net', '-s', join(ws, 'probe.py'), '-i', join(ws, 'port.txt'), '--network', '-r']);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /task network access is turned off on this farm \(drover server --task-network deny\)/);
    const renderRefused = await cli(['render', blend, '--hold', '--network']);
    assert.notEqual(renderRefused.code, 0);
    assert.match(renderRefused.stderr, /task network access is turned off on this farm/);
    const afterwards = JSON.parse((await cli(['job', 'list', '--json'])).stdout) as JobJson[];
    assert.equal(afterwards.length, before.length, 'nothing of a refused job is stored');

    const workers = await cli(['worker', 'list']);
    assert.match(workers.stdout, /confined\s.*\byes\s+none\b/);
    assert.match(workers.stdout, /task network: denied on this farm/);
  });
});
