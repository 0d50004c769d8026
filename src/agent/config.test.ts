import { test } from 'node:test';
import assert from 'node:assert/strict';
import { availableParallelism, hostname } from 'node:os';
import { agentConfig, ConfigError } from './config.js';

/** Runs `fn` with the DROVER_* variables given set (and the agent's others unset), restoring them after. */
function withEnv<T>(vars: Record<string, string>, fn: () => T): T {
  const names = ['DROVER_AGENT_TOKEN', 'DROVER_SESSION_IDLE_SECONDS', 'DROVER_LOG_LIMIT_BYTES', 'DROVER_OUTPUT_LIMIT_BYTES', 'DROVER_KEEP_TASK_DIRS', 'DROVER_AGENT_NAME_WAIT_SECONDS', 'DROVER_WARM', 'DROVER_WARM_IDLE_SECONDS', 'DROVER_WARM_MAX_FRAMES', 'DROVER_WARM_MAX_RSS_MB', 'DROVER_WARM_MAX_SESSIONS', 'DROVER_WARM_SPARE', ...Object.keys(vars)];
  const saved = new Map(names.map((n) => [n, process.env[n]]));
  for (const n of names) delete process.env[n];
  Object.assign(process.env, vars);
  try {
    return fn();
  } finally {
    for (const [n, v] of saved) {
      if (v === undefined) delete process.env[n];
      else process.env[n] = v;
    }
  }
}

test('the defaults an agent runs with when given only a server and a token', () => {
  const config = withEnv({}, () => agentConfig({ server: 'http://a:8686/, http://b:8686', token: 't' }));
  assert.deepEqual(config.servers, ['http://a:8686', 'http://b:8686']);
  assert.equal(config.joinToken, 't');
  assert.equal(config.name, hostname());
  assert.equal(config.slots, availableParallelism());
  assert.equal(config.prefetch, 0);
  assert.equal(config.sandbox, true);
  assert.deepEqual(config.labels, {});
  assert.equal(config.sessionIdleSeconds, 60);
  assert.equal(config.logLimitBytes, 16 * 1024 ** 2);
  assert.equal(config.outputFileLimitBytes, 1024 ** 3);
  assert.equal(config.keepTaskDirs, false);
  assert.equal(config.nameWaitSeconds, 90);
  assert.ok(config.warm);
  assert.equal(config.warm.maxSessions, config.slots);
  assert.equal(config.warm.spare, 'after-render');
});

test('the environment sets what the flags do not', () => {
  const config = withEnv(
    { DROVER_AGENT_TOKEN: 'from-env', DROVER_SESSION_IDLE_SECONDS: '2', DROVER_KEEP_TASK_DIRS: '1', DROVER_AGENT_NAME_WAIT_SECONDS: '0', DROVER_WARM_MAX_SESSIONS: '4', DROVER_WARM_SPARE: '0' },
    () => agentConfig({ server: 'http://a', slots: 3, label: ['gpu=a=b', 'site=x'] }),
  );
  assert.equal(config.joinToken, 'from-env');
  assert.equal(config.sessionIdleSeconds, 2);
  assert.equal(config.keepTaskDirs, true);
  assert.equal(config.nameWaitSeconds, 0);
  assert.deepEqual(config.labels, { gpu: 'a=b', site: 'x' });
  assert.ok(config.warm);
  assert.equal(config.warm.maxSessions, 4);
  assert.equal(config.warm.spare, 'off');
  const renderNode = withEnv({ DROVER_WARM_SPARE: 'start' }, () => agentConfig({ server: 'http://a', token: 't' }));
  assert.equal(renderNode.warm && renderNode.warm.spare, 'at-start');
  assert.equal(withEnv({ DROVER_WARM: '0' }, () => agentConfig({ server: 'http://a', token: 't' })).warm, false);
});

test('a setting that cannot be used is refused with its name and value', () => {
  const refused = (vars: Record<string, string>, flags: Partial<Parameters<typeof agentConfig>[0]>, message: RegExp) =>
    assert.throws(() => withEnv(vars, () => agentConfig({ server: 'http://a', token: 't', ...flags })), (err: unknown) => err instanceof ConfigError && message.test(err.message));
  refused({}, { token: undefined }, /give the agent join token with --token or DROVER_AGENT_TOKEN/);
  refused({}, { engine: 'lxc' }, /--engine is docker or podman/);
  refused({}, { label: ['nokey'] }, /--label takes KEY=VALUE, not "nokey"/);
  refused({ DROVER_LOG_LIMIT_BYTES: 'lots' }, {}, /DROVER_LOG_LIMIT_BYTES must be a positive number, not "lots"/);
  refused({ DROVER_AGENT_NAME_WAIT_SECONDS: '-1' }, {}, /DROVER_AGENT_NAME_WAIT_SECONDS must be a number of seconds \(0 or more\), not "-1"/);
  refused({ DROVER_WARM_MAX_FRAMES: '0' }, {}, /DROVER_WARM_MAX_FRAMES must be a positive number, not "0"/);
  refused({ DROVER_WARM_SPARE: 'yes' }, {}, /DROVER_WARM_SPARE is 0, 1 or start, not "yes"/);
});
