// The container provider against a fake engine (a shell script that records its calls): which
// commands run, where the token goes, and that drain and exit are followed. A real podman run
// needs an image with drover in it, which this repository does not build.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ContainerProvider, runArgs } from './container.js';
import type { AgentSpec } from './provider.js';

const TOKEN = 'drv_join_secret-value';
const spec: AgentSpec = { servers: ['http://coord:8686', 'http://coord2:8686'], joinToken: TOKEN, slots: 2, sandbox: false };

async function fakeEngine(): Promise<{ bin: string; calls: () => Promise<string[][]>; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'drover-fake-engine-'));
  const bin = join(dir, 'engine');
  // Each call: one line of its arguments (tab-separated), then "token=<value or unset>".
  await writeFile(
    bin,
    `#!/bin/bash
{ printf '%s\\t' "$@"; echo "token=\${DROVER_AGENT_TOKEN:-unset}"; } >> "${dir}/calls"
for last; do :; done
case " $* " in
  *" run "*) echo 0123456789abcdef0123 ;;
  *" wait "*) while [ ! -e "${dir}/stopped-$last" ]; do sleep 0.05; done; echo 0 ;;
  *" stop "*|*" kill "*) touch "${dir}/stopped-$last" ;;
  *" rm "*) echo "no such container" >&2; exit 1 ;;
  *" inspect "*) echo false ;;
esac
`,
  );
  await chmod(bin, 0o755);
  const calls = async () =>
    (await readFile(join(dir, 'calls'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => l.split('\t'));
  return { bin, calls, dir };
}

test('run arguments: name, label, token by name only, runtime placement per engine, drover agent command', () => {
  const limits = 'Limit                     Soft Limit           Hard Limit           Units\nMax processes             1000                 2000                 processes\nMax open files            1024                 524288               files\n';
  const podman = runArgs({ engine: 'podman', image: 'reg/drover:1', runtime: '/usr/sbin/runc', network: 'host', drainTimeoutSeconds: 60 }, spec, 'fleet-2', 'fleet', limits);
  assert.deepEqual(podman, [
    'run', '-d', '--rm', '--name', 'fleet-2', '--label', 'drover.fleet=fleet', '--stop-signal', 'SIGTERM', '-e', 'DROVER_AGENT_TOKEN',
    '--ulimit', 'nofile=65536:65536', '--ulimit', 'nproc=2000:2000', '--network', 'host',
    'reg/drover:1', 'drover', 'agent', '--server', 'http://coord:8686,http://coord2:8686', '--slots', '2', '--name', 'fleet-2', '--work-dir', '/var/lib/drover/agent', '--no-sandbox',
  ]);
  const docker = runArgs({ engine: 'docker', image: 'img', runtime: 'runc', drainTimeoutSeconds: 60 }, { ...spec, sandbox: true }, 'f-1', 'f');
  assert.ok(docker.includes('--runtime'));
  assert.ok(!docker.includes('--no-sandbox'));
  for (const args of [podman, docker]) assert.ok(!args.some((a) => a.includes(TOKEN)));
});

test('start, drain and exit through the engine; the token only in the run call\'s environment', async () => {
  const engine = await fakeEngine();
  const provider = new ContainerProvider({ engine: 'podman', image: 'img:1', runtime: '/usr/sbin/runc', drainTimeoutSeconds: 90, bin: engine.bin }, spec, 'fleet');
  const agent = await provider.start('fleet-1');
  assert.match(agent.describe, /container fleet-1 \(0123456789ab\)/);
  let exited = false;
  void agent.exited.then(() => (exited = true));
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(exited, false, 'the agent is still running');
  agent.drain();
  assert.equal(await agent.exited, 'exit code 0');

  const calls = await engine.calls();
  // Every call carries podman's runtime as a global flag, before the subcommand.
  for (const c of calls) assert.deepEqual(c.slice(0, 2), ['--runtime', '/usr/sbin/runc']);
  const sub = (c: string[]) => c[2];
  assert.deepEqual(calls[0]!.slice(2, -1), ['rm', 'fleet-1']);
  const run = calls.find((c) => sub(c) === 'run')!;
  assert.equal(run.at(-1), `token=${TOKEN}`);
  assert.ok(!run.slice(0, -1).some((a) => a.includes(TOKEN)), 'the token is never an argument');
  for (const c of calls.filter((c) => sub(c) !== 'run')) assert.equal(c.at(-1), 'token=unset', `${sub(c)} gets no token`);
  assert.deepEqual(calls.find((c) => sub(c) === 'stop')!.slice(2, -1), ['stop', '-t', '90', 'fleet-1']);
});

test('a failed run is an error naming the engine\'s message', async () => {
  const engine = await fakeEngine();
  await writeFile(engine.bin, '#!/bin/bash\nif [ "$1" = run ]; then echo "Error: image not known" >&2; exit 125; fi\nexit 1\n');
  const provider = new ContainerProvider({ engine: 'docker', image: 'nope', drainTimeoutSeconds: 10, bin: engine.bin }, spec, 'fleet');
  await assert.rejects(provider.start('fleet-1'), /docker run fleet-1 failed: Error: image not known/);
});
