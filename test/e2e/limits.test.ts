// Resource limits with real agents and real processes: a host task is held to the memory its job
// asked for (`--memory`) and to the agent's process cap (`--task-processes`), and the agent says in
// `worker list` what it can enforce. On this machine that is cgroups (v1 or v2, as root); the test
// fails where the agent falls back to rlimits, because then it cannot tell a task ran out of memory.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { type Farm, startFarm } from '../helpers/farm.js';
import { ensureTestImage } from '../helpers/images.js';
import { makeWorkspace } from '../helpers/reliability.js';

interface TaskJson {
  index: number;
  status: string;
  error: string | null;
}
interface JobJson {
  id: string;
  status: string;
  tasks?: TaskJson[];
}

const PROCESS_CAP = 64;

// Allocates (and touches) as many MiB as its input says, then writes a result.
const ALLOCATE = `import os, pathlib, sys
mib = int(pathlib.Path(sys.argv[1]).read_text())
block = bytearray(mib * 1024 * 1024)
for i in range(0, len(block), 4096):
    block[i] = 1
os.makedirs('run-result', exist_ok=True)
pathlib.Path('run-result/ok.txt').write_text(f'allocated {mib} MiB\\n')
`;

// Starts processes until the system says no, counts them, and ends them again.
const SPAWN_MANY = `import os, subprocess, pathlib
children = []
refused = None
for _ in range(1000):
    try:
        children.append(subprocess.Popen(['sleep', '60']))
    except OSError as err:
        refused = err
        break
for c in children:
    c.kill()
    c.wait()
os.makedirs('run-result', exist_ok=True)
pathlib.Path('run-result/count.txt').write_text(f'{len(children)} {refused}\\n')
print(f'started {len(children)} processes, then: {refused}')
`;

// The classic: every copy starts two more, forever. Only the process cap and the timeout end it.
const FORK_BOMB = 'bomb() { bomb | bomb & }; bomb\nsleep 600\n';

describe('resource limits', { timeout: 600_000 }, () => {
  let farm: Farm;
  before(async () => {
    farm = await startFarm({ agents: 1, slots: 2, agentArgs: ['--task-processes', String(PROCESS_CAP)] });
  });
  after(async () => {
    await farm?.stop();
  });

  async function viewJson(id: string): Promise<JobJson> {
    const r = await farm.cli(['job', 'view', id, '--json']);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as JobJson;
  }

  async function runJob(name: string, script: string, scriptName: string, inputs: Record<string, string>, extra: string[]): Promise<JobJson> {
    const ws = await makeWorkspace({ [scriptName]: script, ...inputs });
    const r = await farm.cli(['job', 'create', '-n', name, '-s', join(ws, scriptName), '-i', join(ws, 'in/*.txt'), '--max-attempts', '1', '-r', '-w', '--json', ...extra]);
    const id = /"id":\s*"(j[\w-]+)"/.exec(r.stdout)?.[1] ?? /job (j[\w-]+)/.exec(r.stderr + r.stdout)?.[1];
    assert.ok(id, `no job id in: ${r.stdout}\n${r.stderr}`);
    return viewJson(id);
  }

  test('worker list says what the agent holds host tasks to', async () => {
    const list = await farm.cli(['worker', 'list']);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /LIMITS[\s\S]*memory, processes \(cgroup v[12]\)/);
    const json = JSON.parse((await farm.cli(['worker', 'list', '--json'])).stdout) as { limits: { memory: boolean; processes: boolean; how: string } }[];
    assert.deepEqual({ memory: json[0]!.limits.memory, processes: json[0]!.limits.processes }, { memory: true, processes: true });
    assert.match(json[0]!.limits.how, /^cgroup v[12]$/);
  });

  test('a task of 256 MiB that allocates 1 GiB is killed and says it ran out of memory; one within its limit is not', async () => {
    const job = await runJob('memory', ALLOCATE, 'alloc.py', { 'in/job_1.txt': '64', 'in/job_2.txt': '1024' }, ['--memory', '256']);
    assert.equal(job.status, 'error');
    const [small, big] = [...job.tasks!].sort((a, b) => a.index - b.index);
    assert.equal(small!.status, 'done', JSON.stringify(small));
    assert.equal(big!.status, 'error');
    assert.match(big!.error ?? '', /ran out of memory: it used more than its limit of 256 MiB/);
  });

  test('in a container, the engine holds the task to its --memory', async () => {
    const python = await ensureTestImage('python');
    const job = await runJob('container-memory', ALLOCATE, 'alloc.py', { 'in/job_1.txt': '64', 'in/job_2.txt': '1024' }, ['--memory', '256', '--image', python]);
    const [small, big] = [...job.tasks!].sort((a, b) => a.index - b.index);
    assert.equal(small!.status, 'done', JSON.stringify(small));
    assert.equal(big!.status, 'error');
    assert.match(big!.error ?? '', /exit 137\), most likely for using more than its memory limit of 256 MiB/);
  });

  test('a task cannot start more processes than the agent allows', async () => {
    const job = await runJob('many', SPAWN_MANY, 'spawn.py', { 'in/job_1.txt': '1' }, []);
    assert.equal(job.status, 'done', JSON.stringify(job.tasks));
    const log = await farm.cli(['job', 'logs', job.id]);
    const started = Number(/started (\d+) processes, then: .*(Resource temporarily unavailable|BlockingIOError)/.exec(log.stdout)?.[1]);
    assert.ok(started > 0 && started < PROCESS_CAP, log.stdout);
  });

  test('a fork bomb is capped, stopped at its timeout, and the agent runs the next task', async () => {
    const bomb = await runJob('bomb', FORK_BOMB, 'bomb.sh', { 'in/job_1.txt': '1' }, ['--timeout', '5']);
    assert.equal(bomb.status, 'error');
    assert.match(bomb.tasks![0]!.error ?? '', /timeout of 5 s/);
    const next = await runJob('after-bomb', ALLOCATE, 'alloc.py', { 'in/job_1.txt': '8' }, []);
    assert.equal(next.status, 'done', JSON.stringify(next.tasks));
    const list = JSON.parse((await farm.cli(['worker', 'list', '--json'])).stdout) as { status: string }[];
    assert.equal(list[0]!.status, 'online');
  });
});
