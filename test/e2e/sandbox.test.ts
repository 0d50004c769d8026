// Host tasks under bubblewrap, end to end: an agent confines by default, so a task sees its own
// directory and the read-only system but nothing of the agent (its credentials, its cache) nor
// other files the agent can read; `--no-sandbox` turns that off, and `worker list` tells which is which.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ADMIN_PASSWORD, type TestServer, runCli, startAgent, startServer } from '../helpers/farm.js';

const PROBE_SCRIPT = `
import json, os, sys
paths = json.load(open('paths.json'))
read = {}
for p in paths:
    try:
        read[p] = open(p).read()
    except OSError as e:
        read[p] = 'ERR ' + type(e).__name__
try:
    open('/usr/drover-sandbox-probe', 'w').close()
    system_writable = True
except OSError:
    system_writable = False
ifaces = sorted(l.split(':')[0].strip() for l in open('/proc/net/dev').read().splitlines()[2:])
os.makedirs('run-result', exist_ok=True)
json.dump({'read': read, 'system_writable': system_writable, 'ifaces': ifaces, 'uid': os.getuid(), 'input': open(sys.argv[1]).read()}, open('run-result/probe.json', 'w'))
`;

interface Probe {
  read: Record<string, string>;
  system_writable: boolean;
  ifaces: string[];
  uid: number;
  input: string;
}

describe('host tasks confined with bubblewrap', { timeout: 150_000 }, () => {
  let server: TestServer;
  let secretDir: string;
  let secretFile: string;
  let ws: string;
  const config = () => join(server.dataDir, 'cli-admin.json');
  const cli = (args: string[]) => runCli(args, { env: { DROVER_CONFIG: config(), DROVER_SERVER: server.url } });

  before(async () => {
    server = await startServer();
    assert.equal((await cli(['login', '-u', 'admin', '-p', ADMIN_PASSWORD])).code, 0);
    // World-readable in a world-searchable directory: only confinement, not permissions, can hide it.
    secretDir = await mkdtemp(join(tmpdir(), 'drover-secret-'));
    await chmod(secretDir, 0o755);
    secretFile = join(secretDir, 'secret.txt');
    await writeFile(secretFile, 'the agent can read this', { mode: 0o644 });
    ws = await mkdtemp(join(tmpdir(), 'drover-ws-'));
    await writeFile(join(ws, 'probe.py'), PROBE_SCRIPT);
    await mkdir(join(ws, 'in'));
    await writeFile(join(ws, 'in', 'a.txt'), 'input a');
  });
  after(async () => {
    await server?.kill('SIGTERM');
    await rm(secretDir, { recursive: true, force: true });
    if (!process.env.DROVER_KEEP_TEST_DATA) await rm(server.dataDir, { recursive: true, force: true });
  });

  async function runProbe(agentWorkDir: string): Promise<Probe & { jobId: string }> {
    const paths = [secretFile, join(agentWorkDir, 'agent.json'), join(server.dataDir, 'agent-token')];
    await writeFile(join(ws, 'paths.json'), JSON.stringify(paths));
    const r = await cli(['job', 'create', '-n', 'probe', '-s', join(ws, 'probe.py'), '-i', join(ws, 'in', 'a.txt'), '-c', join(ws, 'paths.json'), '--no-network', '--max-attempts', '1', '-r', '-w', '--json']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const { id } = JSON.parse(r.stdout) as { id: string };
    const out = await mkdtemp(join(tmpdir(), 'drover-results-'));
    assert.equal((await cli(['job', 'download-results', id, '-d', out])).code, 0);
    return { ...(JSON.parse(await readFile(join(out, id, 'task-0001', 'probe.json'), 'utf8')) as Probe), jobId: id };
  }

  async function workers(): Promise<{ name: string; status: string; sandbox: boolean }[]> {
    return JSON.parse((await cli(['worker', 'list', '--json'])).stdout) as { name: string; status: string; sandbox: boolean }[];
  }

  test('by default a host task cannot read what the agent can, and the system is read-only', async () => {
    const agent = await startAgent(server, { name: 'confined' });
    try {
      assert.match(agent.output(), /host tasks are confined with bubblewrap/);
      assert.equal((await workers()).find((w) => w.name === 'confined')?.sandbox, true);
      assert.match((await cli(['worker', 'list'])).stdout, /CONFINED[\s\S]*confined\s+online\s+\d+\s+\d+\s+\S+ \S+\s+yes/);

      const probe = await runProbe(agent.workDir);
      assert.equal(probe.input, 'input a', 'the task reads its own input and writes its results');
      for (const [path, content] of Object.entries(probe.read)) assert.match(content, /^ERR /, `${path} must be invisible, the task read: ${content}`);
      assert.equal(probe.system_writable, false);
      assert.deepEqual(probe.ifaces, ['lo'], 'no network when the job opts out');
      assert.notEqual(probe.uid, 0);
    } finally {
      await agent.kill('SIGINT');
    }
  });

  test('--no-sandbox runs host tasks as they are, and says so', async () => {
    const agent = await startAgent(server, { name: 'open', extraArgs: ['--no-sandbox'] });
    try {
      assert.match(agent.output(), /host tasks run unconfined \(--no-sandbox\)/);
      assert.equal((await workers()).find((w) => w.name === 'open')?.sandbox, false);
      const probe = await runProbe(agent.workDir);
      assert.equal(probe.read[secretFile], 'the agent can read this', 'the control: the same file is readable without confinement');
      const log = await cli(['job', 'logs', probe.jobId]);
      assert.match(log.stdout + log.stderr, /this agent runs host tasks unconfined, so the task has the network although its job has none/);
      assert.match((await cli(['worker', 'list'])).stdout, /open\s.*\bno\s+containers: per job; host: always\b/);
    } finally {
      await agent.kill('SIGINT');
    }
  });
});
