// Scheduling with real agents: no job waits in silence. A failed attempt is retried on another
// agent; a job every online agent is blocklisted for ends `error` with that reason (the always-
// failing script of issue 18 on 1, 2 and 3 agents); a queued job says why it waits; agents people
// manage; requirements that route tasks. The order work runs in (priority, fair share, --after) is
// in scheduling-order.test.ts.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { api, eventually, startAgent } from '../helpers/farm.js';
import { makeWorkspace } from '../helpers/reliability.js';
import { type JobJson, attemptsOf, farmOf, inputs, viewJson } from '../helpers/scheduling.js';

describe('no silent waits', { timeout: 600_000 }, () => {
  for (const agents of [1, 2, 3]) {
    test(`a script that always fails ends the job in error on ${agents} agent(s), and -w exits non-zero`, async () => {
      const farm = await farmOf(agents);
      const ws = await makeWorkspace({ 'fail.py': 'import nonexistent_module\n', ...inputs(10) });
      // The exact command of the issue: it used to leave the job running forever with tasks queued.
      const r = await farm.cli(['job', 'create', '-n', 'always-fails', '-s', join(ws, 'fail.py'), '-i', join(ws, 'in/*.txt'), '-r', '-w']);
      assert.notEqual(r.code, 0, r.stdout);
      assert.match(r.stderr, /ended error/);
      const id = /job (j[\w-]+)/.exec(r.stderr)![1]!;
      const job = await viewJson(farm, id);
      assert.equal(job.status, 'error');
      assert.equal(job.counts.queued, 0);
      assert.equal(job.counts.error, 10);
      // Every agent ended blocklisted, and the tasks that never got to run say why.
      assert.deepEqual([...job.blockedAgents].sort(), farm.agents.map((a) => a.name).sort());
      const unrun = job.tasks!.filter((t) => /no online agent may run this job any more/.test(t.error ?? ''));
      assert.ok(unrun.length > 0, JSON.stringify(job.tasks));
      assert.match(unrun[0]!.error!, agents === 1 ? /the only online agent \(agent-1\) has failed 3 of its tasks/ : /every online agent \(agent-1, agent-2.*\) has failed 3 of its tasks/);
    });
  }

  test('a failed attempt is retried on another agent when one is online', async () => {
    const farm = await farmOf(2);
    const ws = await makeWorkspace({ 'flaky.sh': '[ "$DROVER_ATTEMPT" = 1 ] && { echo "first attempt fails" >&2; exit 3; }\nmkdir -p run-result\necho ok > run-result/ok.txt\n', ...inputs(4) });
    const r = await farm.cli(['job', 'create', '-n', 'flaky', '-s', join(ws, 'flaky.sh'), '-i', join(ws, 'in/*.txt'), '-r', '-w', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const job = await viewJson(farm, (JSON.parse(r.stdout) as JobJson).id);
    for (const t of job.tasks!) {
      const attempts = await attemptsOf(farm, t.id);
      assert.deepEqual(attempts.map((a) => a.status), ['error', 'done'], `task ${t.index}`);
      assert.notEqual(attempts[1]!.agent, attempts[0]!.agent, `task ${t.index} was retried on the agent it failed on`);
    }
  });

  test('a queued job says why it waits, in job view and job list', async () => {
    const farm = await farmOf(1);
    const ws = await makeWorkspace({ 'sleep.sh': 'sleep 600\n', 'quick.sh': 'echo hi\n', 'x.txt': 'x' });
    const create = async (name: string, script: string, extra: string[] = []) => {
      const r = await farm.cli(['job', 'create', '-n', name, '-s', join(ws, script), '-i', join(ws, 'x.txt'), '--json', ...extra]);
      assert.equal(r.code, 0, r.stderr);
      return (JSON.parse(r.stdout) as JobJson).id;
    };
    const created = await create('not-started', 'quick.sh');
    assert.match((await viewJson(farm, created)).waiting ?? '', new RegExp(`^not started: \`drover job start ${created}\``));

    const long = await create('long', 'sleep.sh', ['-r']);
    await eventually(async () => (await viewJson(farm, long)).status === 'running', 30_000, 'the long job to start');
    const next = await create('next', 'quick.sh', ['-r']);
    const third = await create('third', 'quick.sh', ['-r']);
    assert.equal((await viewJson(farm, next)).waiting, 'the one agent that may run it (agent-1) is busy');
    assert.equal((await viewJson(farm, third)).waiting, '1 job ahead in the queue');
    const huge = await create('huge', 'quick.sh', ['-r', '-t', 'xl']);
    assert.match((await viewJson(farm, huge)).waiting ?? '', /asks for 16 cores but the largest connected agent offers 1/);

    const list = await farm.cli(['job', 'list', '--json']);
    const listed = new Map((JSON.parse(list.stdout) as JobJson[]).map((j) => [j.id, j.waiting]));
    assert.equal(listed.get(third), '1 job ahead in the queue');
    assert.equal(listed.get(long), null);
    const table = await farm.cli(['job', 'list']);
    assert.match(table.stdout, /WAITING/);
    assert.match(table.stdout, /1 job ahead in the queue/);
    const view = await farm.cli(['job', 'view', next]);
    assert.match(view.stdout, /waiting: the one agent that may run it \(agent-1\) is busy/);

    // Without an agent: the wait says so.
    await farm.agents[0]!.kill('SIGINT');
    await eventually(async () => /no agent is connected/.test((await viewJson(farm, next)).waiting ?? ''), 30_000, 'the agent to be seen gone');
    for (const id of [long, next, third, huge]) await farm.cli(['job', 'stop', id]);
  });
});


describe('agents people can manage', { timeout: 300_000 }, () => {
  test('worker pause, resume, view and remove', async () => {
    const farm = await farmOf(1);
    const ws = await makeWorkspace({ 'quick.sh': 'mkdir -p run-result\necho ok > run-result/out.txt\n', 'x.txt': 'x' });
    const paused = await farm.cli(['worker', 'pause', 'agent-1']);
    assert.equal(paused.code, 0, paused.stderr);
    assert.match((await farm.cli(['worker', 'list'])).stdout, /agent-1\s+online, paused/);
    assert.deepEqual((JSON.parse((await farm.cli(['audit', '--action', 'worker.pause', '--json'])).stdout) as { target: string }[]).map((e) => e.target), ['agent-1']);
    const r = await farm.cli(['job', 'create', '-n', 'after-pause', '-s', join(ws, 'quick.sh'), '-i', join(ws, 'x.txt'), '-r', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const id = (JSON.parse(r.stdout) as JobJson).id;
    const waiting = await viewJson(farm, id);
    assert.equal(waiting.status, 'queued');
    assert.equal(waiting.waiting, 'every online agent is paused (`drover worker resume NAME`)');
    // Only admins manage agents.
    const bob = await farm.userCli('bob');
    const refused = await bob(['worker', 'resume', 'agent-1']);
    assert.notEqual(refused.code, 0);
    assert.equal((await viewJson(farm, id)).counts.queued, 1);

    assert.equal((await farm.cli(['worker', 'resume', 'agent-1'])).code, 0);
    await eventually(async () => (await viewJson(farm, id)).status === 'done', 60_000, 'the job to run once resumed');
    const view = await farm.cli(['worker', 'view', 'agent-1']);
    assert.equal(view.code, 0, view.stderr);
    assert.match(view.stdout, /agent agent-1: online/);
    assert.match(view.stdout, new RegExp(`${id}\\s+1\\s+1\\s+done`));
    // Bob sees the agent worked, not on whose job.
    assert.doesNotMatch((await bob(['worker', 'view', 'agent-1'])).stdout, new RegExp(id));

    // Labels set from the coordinator are matched like the agent's own.
    const labelled = await farm.cli(['worker', 'label', 'agent-1', 'tier=gpu']);
    assert.equal(labelled.code, 0, labelled.stderr);
    assert.match(labelled.stdout, /agent-1 labels: tier=gpu/);
    const routed = await farm.cli(['job', 'create', '-n', 'needs-tier', '-s', join(ws, 'quick.sh'), '-i', join(ws, 'x.txt'), '-r', '-w', '--json', '--require', 'tier=gpu']);
    assert.equal(routed.code, 0, routed.stderr);
    const unlabelled = await farm.cli(['worker', 'label', 'agent-1', 'tier=']);
    assert.match(unlabelled.stdout, /agent-1 labels: \(none\)/);
    const stuck = await farm.cli(['job', 'create', '-n', 'needs-tier-2', '-s', join(ws, 'quick.sh'), '-i', join(ws, 'x.txt'), '-r', '--json', '--require', 'tier=gpu']);
    assert.equal((await viewJson(farm, (JSON.parse(stuck.stdout) as JobJson).id)).waiting, 'no online agent has tier=gpu');
    await farm.cli(['job', 'stop', (JSON.parse(stuck.stdout) as JobJson).id]);

    const early = await farm.cli(['worker', 'remove', 'agent-1']);
    assert.notEqual(early.code, 0);
    assert.match(early.stderr, /only an offline agent can be removed/);
    await farm.agents[0]!.kill('SIGINT');
    await eventually(async () => /agent-1\s+offline/.test((await farm.cli(['worker', 'list'])).stdout), 30_000, 'the agent to be offline');
    assert.equal((await farm.cli(['worker', 'remove', 'agent-1'])).code, 0);
    assert.doesNotMatch((await farm.cli(['worker', 'list'])).stdout, /agent-1/);
  });
});

describe('requirements and routing', { timeout: 300_000 }, () => {
  test('--require and --gpus route tasks to the agents that meet them; a job no agent meets says why', async () => {
    const farm = await farmOf(0);
    // A fake nvidia-smi on the GPU agent's PATH stands in for detection (no GPU on the test machine):
    // it lists two GPUs as the real one does with --query-gpu=index --format=csv,noheader.
    const fake = await makeWorkspace({ 'bin/nvidia-smi': '#!/bin/sh\necho 0\necho 1\n' });
    await import('node:fs/promises').then((fs) => fs.chmod(join(fake, 'bin/nvidia-smi'), 0o755));
    farm.agents.push(await startAgent(farm.server, { name: 'plain', slots: 1 }));
    farm.agents.push(await startAgent(farm.server, { name: 'gpu-box', slots: 1, extraArgs: ['--label', 'tier=gpu'], env: { PATH: `${join(fake, 'bin')}:${process.env.PATH}` } }));
    const ws = await makeWorkspace({ 'work.sh': 'sleep 0.3\necho "gpus=$CUDA_VISIBLE_DEVICES"\n', ...inputs(3) });
    const create = (name: string, extra: string[]) => farm.cli(['job', 'create', '-n', name, '-s', join(ws, 'work.sh'), '-i', join(ws, 'in/*.txt'), '-r', '--json', ...extra]);
    const idOf = (r: { code: number; stdout: string; stderr: string }) => {
      assert.equal(r.code, 0, r.stderr);
      return (JSON.parse(r.stdout) as JobJson).id;
    };
    const byLabel = idOf(await create('by-label', ['--require', 'tier=gpu']));
    const byGpus = idOf(await create('by-gpus', ['--gpus', '2']));
    const nowhere = idOf(await create('nowhere', ['--require', 'tier=render']));
    const huge = idOf(await create('huge-memory', ['--memory', '16000000']));
    for (const id of [byLabel, byGpus]) {
      const job = await eventually(async () => {
        const j = await viewJson(farm, id);
        return j.status === 'done' ? j : null;
      }, 90_000, `job ${id} to finish`);
      for (const t of job.tasks!) assert.deepEqual((await attemptsOf(farm, t.id)).map((a) => a.agent), ['gpu-box'], `job ${id} task ${t.index}`);
    }
    // Each task sees the GPUs it leased: both for --gpus 2, none for a task that asked for none.
    const token = await farm.adminToken();
    const stdoutOf = async (id: string) => {
      const results = (await api<{ tasks: { files: { path: string; sha256: string }[] }[] }>(farm.url, token, 'GET', `/jobs/${id}/results`)).body;
      return Promise.all(results.tasks.map(async (t) => (await fetch(`${farm.url}/api/v1/jobs/${id}/files/${t.files.find((f) => f.path === 'stdout.txt')!.sha256}`, { headers: { authorization: `Bearer ${token}` } })).text()));
    };
    assert.deepEqual(await stdoutOf(byGpus), ['gpus=0,1\n', 'gpus=0,1\n', 'gpus=0,1\n']);
    assert.deepEqual(await stdoutOf(byLabel), ['gpus=\n', 'gpus=\n', 'gpus=\n']);
    assert.equal((await viewJson(farm, nowhere)).waiting, 'no online agent has tier=render');
    assert.match((await viewJson(farm, huge)).waiting ?? '', /^no online agent meets its requirements: \S+ has \d+ MiB of memory, the job asks for 16000000$/);
    assert.equal((await viewJson(farm, nowhere)).counts.queued, 3);
    const bad = await create('bad', ['--require', 'tier']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /--require takes key=value/);
    for (const id of [nowhere, huge]) await farm.cli(['job', 'stop', id]);
  });
});
