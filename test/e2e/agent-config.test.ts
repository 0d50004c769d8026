// `drover agent` reads its settings once, at start (src/agent/config.ts): a bad one stops it with a
// one-line error naming it, before it joins or touches its work directory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/farm.js';

test('drover agent refuses a setting it cannot use, in one line, and creates nothing', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'drover-agent-config-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const workDir = join(dir, 'agent');
  const cases: { args?: string[]; env: Record<string, string>; message: string }[] = [
    { env: { DROVER_AGENT_TOKEN: '' }, message: 'error: give the agent join token with --token or DROVER_AGENT_TOKEN (the coordinator keeps it in DATA/agent-token)' },
    { env: { DROVER_LOG_LIMIT_BYTES: 'lots' }, message: 'error: DROVER_LOG_LIMIT_BYTES must be a positive number, not "lots"' },
    { env: { DROVER_WARM_MAX_SESSIONS: '-2' }, message: 'error: DROVER_WARM_MAX_SESSIONS must be a positive number, not "-2"' },
    { args: ['--label', 'gpu'], env: {}, message: 'error: --label takes KEY=VALUE, not "gpu"' },
    { args: ['--engine', 'lxc'], env: {}, message: 'error: --engine is docker or podman' },
  ];
  for (const c of cases) {
    const token = c.env.DROVER_AGENT_TOKEN === '' ? [] : ['--token', 'x'];
    const result = await runCli(['agent', '--server', 'http://127.0.0.1:9', ...token, '--work-dir', workDir, ...(c.args ?? [])], { env: c.env, timeoutMs: 60_000 });
    assert.notEqual(result.code, 0, c.message);
    assert.equal(result.stderr.trim(), c.message);
  }
  // Refused before anything was made: no work directory, no lock, no identity.
  assert.deepEqual(await readdir(dir), []);
});
