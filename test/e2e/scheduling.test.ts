// Scheduling with real agents: no job waits in silence. A failed attempt is retried on another
// agent; a job every online agent is blocklisted for ends `error` with that reason (the always-
// failing script of issue 18 on 1, 2 and 3 agents); a queued job says why it waits.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { type Farm, api, eventually, startAgent, startFarm } from '../helpers/farm.js';
import { makeWorkspace } from '../helpers/reliability.js';

interface TaskJson {
  id: string;
  index: number;
  status: string;
  error: string | null;
}
interface JobJson {
  id: string;
  status: string;
  counts: Record<string, number>;
  waiting: string | null;
  unschedulable: string | null;
  blockedAgents: string[];
  tasks?: TaskJson[];
}
interface AttemptJson {
  attempt: number;
  agent: string | null;
  status: string;
  startedAt: string;
}

const farms: Farm[] = [];
after(async () => {
  await Promise.all(farms.map((f) => f.stop()));
});

/** A farm of its own for the test that asks; the previous test's, done with, is stopped first (idle farms left running cost CPU the other test files need). */
async function farmOf(agents: number, slots = 1): Promise<Farm> {
  await Promise.all(farms.splice(0).map((f) => f.stop()));
  const farm = await startFarm({ agents, slots });
  farms.push(farm);
  return farm;
}

async function viewJson(farm: Farm, id: string): Promise<JobJson> {
  const r = await farm.cli(['job', 'view', id, '--json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as JobJson;
}

async function attemptsOf(farm: Farm, taskId: string): Promise<AttemptJson[]> {
  return (await api<{ attempts: AttemptJson[] }>(farm.url, await farm.adminToken(), 'GET', `/tasks/${taskId}`)).body.attempts;
}

const inputs = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`in/job_${i + 1}.txt`, String(i + 1)]));

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

describe('priority and fair share', { timeout: 600_000 }, () => {
  test('a one-slot agent runs the highest priority first, then the oldest; job set changes it while queued', async () => {
    const farm = await farmOf(1);
    // The agent is held by a job until the test stops it.
    const ws = await makeWorkspace({ 'block.sh': 'sleep 600\n', 'quick.sh': 'echo done\n', 'x.txt': 'x' });
    const create = async (name: string, script: string, input: string, extra: string[]) => {
      const r = await farm.cli(['job', 'create', '-n', name, '-s', join(ws, script), '-i', join(ws, input), '-r', '--json', '--no-network', ...extra]);
      assert.equal(r.code, 0, r.stderr);
      return (JSON.parse(r.stdout) as JobJson & { priority: number }).id;
    };
    const blocker = await create('blocker', 'block.sh', 'x.txt', []);
    await eventually(async () => (await viewJson(farm, blocker)).status === 'running', 30_000, 'the blocker to start');
    const low = await create('low', 'quick.sh', 'x.txt', ['--priority', '10']);
    const normal = await create('normal', 'quick.sh', 'x.txt', []);
    const normal2 = await create('normal-2', 'quick.sh', 'x.txt', []);
    const urgent = await create('urgent', 'quick.sh', 'x.txt', ['--priority', '90']);
    // Raised while queued: now ahead of the other normal one, behind the urgent one.
    const raised = await farm.cli(['job', 'set', normal2, '--priority', '60']);
    assert.equal(raised.code, 0, raised.stderr);
    assert.match(raised.stdout, /priority 60/);
    const setAudit = JSON.parse((await farm.cli(['audit', '--action', 'job.set', '--json'])).stdout) as { target: string; details: { priority: number } }[];
    assert.deepEqual(setAudit.map((e) => [e.target, e.details.priority]), [[normal2, 60]], 'job set is in the audit log');
    assert.equal((await viewJson(farm, low)).waiting, '3 jobs of higher priority ahead');
    assert.equal((await viewJson(farm, normal)).waiting, '2 jobs of higher priority ahead');
    const bad = await farm.cli(['job', 'set', low, '--priority', '101']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /--priority must be a whole number from 0 to 100/);
    const api400 = await api<{ message: string }>(farm.url, await farm.adminToken(), 'PATCH', `/jobs/${low}`, { priority: -1 });
    assert.equal(api400.status, 400);

    assert.equal((await farm.cli(['job', 'stop', blocker])).code, 0);
    const order = [urgent, normal2, normal, low];
    const started: [string, string][] = [];
    for (const id of order) {
      const job = await eventually(async () => {
        const j = await viewJson(farm, id);
        return j.status === 'done' ? j : null;
      }, 60_000, `job ${id} to finish`);
      started.push([id, (await attemptsOf(farm, job.tasks![0]!.id))[0]!.startedAt]);
    }
    const byStart = [...started].sort((a, b) => (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0)).map(([id]) => id);
    assert.deepEqual(byStart, order);
    const view = await farm.cli(['job', 'view', urgent]);
    assert.match(view.stdout, /priority: 90/);
  });

  test('fair share: two users at equal priority take turns on the farm\'s slots', async () => {
    const farm = await farmOf(1, 2);
    // Both slots are held by a job until the test stops it.
    const ws = await makeWorkspace({ 'block.sh': 'sleep 600\n', 'work.sh': 'sleep 1\n', ...inputs(4), 'hold/1.txt': '1', 'hold/2.txt': '2' });
    const blocker = await farm.cli(['job', 'create', '-n', 'blocker', '-s', join(ws, 'block.sh'), '-i', join(ws, 'hold/*.txt'), '-r', '--json']);
    assert.equal(blocker.code, 0, blocker.stderr);
    const blockerId = (JSON.parse(blocker.stdout) as JobJson).id;
    await eventually(async () => (await viewJson(farm, blockerId)).counts.running === 2, 30_000, 'the blocker to hold both slots');
    const jobs = new Map<string, string>();
    for (const user of ['alice', 'bob']) {
      const cli = await farm.userCli(user);
      const r = await cli(['job', 'create', '-n', `${user}-work`, '-s', join(ws, 'work.sh'), '-i', join(ws, 'in/*.txt'), '-r', '--json']);
      assert.equal(r.code, 0, r.stderr);
      jobs.set((JSON.parse(r.stdout) as JobJson).id, user);
    }
    // Bob sees where his job stands without seeing alice's.
    const bob = await farm.userCli('bob');
    const bobList = JSON.parse((await bob(['job', 'list', '--json'])).stdout) as JobJson[];
    assert.equal(bobList.length, 1);
    assert.equal(bobList[0]!.waiting, '1 job ahead in the queue');

    assert.equal((await farm.cli(['job', 'stop', blockerId])).code, 0);
    const starts: [string, string][] = [];
    for (const [id, user] of jobs) {
      const job = await eventually(async () => {
        const j = await viewJson(farm, id);
        return j.status === 'done' ? j : null;
      }, 90_000, `${user}'s job to finish`);
      for (const t of job.tasks!) starts.push([user, (await attemptsOf(farm, t.id))[0]!.startedAt]);
    }
    starts.sort((a, b) => (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
    // Oldest first alone would give alice both slots until her job ran out; fair share alternates.
    let alice = 0;
    let bobs = 0;
    for (const [user] of starts) {
      if (user === 'alice') alice++;
      else bobs++;
      if (alice < 4 && bobs < 4) assert.ok(Math.abs(alice - bobs) <= 1, `starts: ${starts.map(([u]) => u).join(', ')}`);
    }
  });
});

describe('job dependencies', { timeout: 600_000 }, () => {
  test('--after runs a job once the jobs it names are done, cancels it when one fails or is deleted unrun; --after-any waits for any end', async () => {
    const farm = await farmOf(1);
    const ws = await makeWorkspace({
      'first.sh': 'sleep 3\nmkdir -p run-result\necho first > run-result/out.txt\n',
      'fails.sh': 'sleep 3\necho "broken" >&2\nexit 1\n',
      'quick.sh': 'mkdir -p run-result\necho ok > run-result/out.txt\n',
      'x.txt': 'x',
    });
    const create = async (name: string, script: string, extra: string[], cli = farm.cli, run = true) => {
      const r = await cli(['job', 'create', '-n', name, '-s', join(ws, script), '-i', join(ws, 'x.txt'), ...(run ? ['-r'] : []), '--json', '--max-attempts', '1', ...extra]);
      return r;
    };
    const idOf = (r: { code: number; stdout: string; stderr: string }) => {
      assert.equal(r.code, 0, r.stderr);
      return (JSON.parse(r.stdout) as JobJson).id;
    };
    // The first job is started only once the dependent is seen waiting: on a busy machine a CLI
    // call can outlast a short task, and the dependent would then find it done already.
    const first = idOf(await create('first', 'first.sh', [], farm.cli, false));
    const second = idOf(await create('second', 'quick.sh', ['--after', first]));
    const held = await viewJson(farm, second);
    assert.equal(held.status, 'queued');
    assert.equal(held.counts.queued, 1);
    assert.equal(held.waiting, `waiting for job ${first}`);
    assert.match((await farm.cli(['job', 'view', second])).stdout, new RegExp(`after: ${first} \\(once they are done\\)`));
    assert.equal((await farm.cli(['job', 'start', first])).code, 0);
    const done = await eventually(async () => {
      const j = await viewJson(farm, second);
      return j.status === 'done' ? j : null;
    }, 60_000, 'the dependent job to be done');
    const firstTask = (await viewJson(farm, first)).tasks![0]!;
    const firstEnd = (await api<{ finishedAt: string }>(farm.url, await farm.adminToken(), 'GET', `/tasks/${firstTask.id}`)).body.finishedAt;
    const secondStart = (await attemptsOf(farm, done.tasks![0]!.id))[0]!.startedAt;
    assert.ok(secondStart >= firstEnd, `the dependent started at ${secondStart}, before ${firstEnd}`);

    // One it waits for fails: --after cancels with the reason, --after-any runs anyway.
    const failing = idOf(await create('fails', 'fails.sh', [], farm.cli, false));
    const strict = idOf(await create('strict', 'quick.sh', ['--after', `${first},${failing}`]));
    const lenient = idOf(await create('lenient', 'quick.sh', ['--after', failing, '--after-any']));
    assert.equal((await farm.cli(['job', 'start', failing])).code, 0);
    const canceled = await eventually(async () => {
      const j = await viewJson(farm, strict);
      return j.status === 'canceled' ? j : null;
    }, 60_000, 'the strict dependent to be canceled');
    assert.match(canceled.tasks![0]!.error ?? '', new RegExp(`job ${failing}, which it waits for \\(--after\\), ended error`));
    await eventually(async () => (await viewJson(farm, lenient)).status === 'done', 60_000, 'the lenient dependent to run');

    // Refused with a reason: a job that can never be done, another user's job, --after-any alone.
    const never = await create('never', 'quick.sh', ['--after', failing]);
    assert.notEqual(never.code, 0);
    assert.match(never.stderr, new RegExp(`job ${failing} ended error; it can never be done`));
    const bob = await farm.userCli('bob');
    const foreign = await create('foreign', 'quick.sh', ['--after', first], bob);
    assert.notEqual(foreign.code, 0);
    assert.match(foreign.stderr, new RegExp(`job ${first} does not exist or is not yours`));
    const alone = await create('alone', 'quick.sh', ['--after-any']);
    assert.notEqual(alone.code, 0);
    assert.match(alone.stderr, /--after-any goes with --after/);

    // One it waits for is deleted before it ran: --after can never be met and cancels with the
    // reason (the dependency row goes with the job; it used to release the dependent); --after-any runs.
    const unstarted = idOf(await create('never started', 'quick.sh', [], farm.cli, false));
    const orphan = idOf(await create('orphan', 'quick.sh', ['--after', unstarted]));
    const relaxed = idOf(await create('relaxed', 'quick.sh', ['--after', unstarted, '--after-any']));
    assert.equal((await viewJson(farm, orphan)).waiting, `waiting for job ${unstarted}`);
    const deleted = await farm.cli(['job', 'delete', unstarted]);
    assert.equal(deleted.code, 0, deleted.stderr);
    const orphaned = await eventually(async () => {
      const j = await viewJson(farm, orphan);
      return j.status === 'canceled' ? j : null;
    }, 60_000, 'the dependent of a deleted job to be canceled');
    assert.match(orphaned.tasks![0]!.error ?? '', new RegExp(`job ${unstarted}, which it waits for \\(--after\\), was deleted before it was done`));
    await eventually(async () => (await viewJson(farm, relaxed)).status === 'done', 60_000, 'the --after-any dependent of a deleted job to run');
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
