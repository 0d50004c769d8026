// The wire contract (src/wire/): the coordinator's real answers match the schemas the CLI, the
// agent and the web app are typed by; the OpenAPI document describes those answers; and an agent,
// from its start through running a task, loads no module of the coordinator or the store.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { api, type Farm, REPO, startAgent, startFarm } from '../helpers/farm.js';
import { JobList, JobView, LogPage, TaskDetail, TaskPage, UserView, WorkerDetail, WorkerList } from '../../src/wire/index.js';

/** Fails with the first problems TypeBox finds, named by their path. */
function assertMatches(schema: TSchema, value: unknown, what: string): void {
  const problems = [...Value.Errors(schema, value)].slice(0, 5).map((e) => `${e.path || '/'}: ${e.message}`);
  assert.deepEqual(problems, [], `${what} does not match its wire schema`);
}

describe('the wire contract', { timeout: 300_000 }, () => {
  let farm: Farm;
  let ws: string;
  let agent: Awaited<ReturnType<typeof startAgent>>;
  let jobId: string;
  const loads = () => join(ws, 'agent-loads.txt');

  before(async () => {
    farm = await startFarm({ agents: 0 });
    ws = await mkdtemp(join(tmpdir(), 'drover-wire-'));
    // The agent records every module it resolves (test/helpers/record-loads.mjs). It runs from the
    // sources (DROVER_NO_BUILD): the compiled CLI bundles modules into chunks that name no source file.
    agent = await startAgent(farm.server, {
      name: 'recorded',
      env: { NODE_OPTIONS: `--import=${pathToFileURL(join(REPO, 'test/helpers/record-loads.mjs')).href}`, DROVER_RECORD_LOADS: loads(), DROVER_NO_BUILD: '1' },
    });
    await writeFile(join(ws, 'task.py'), "import sys\nprint('read', open(sys.argv[1]).read().strip())\n");
    await mkdir(join(ws, 'in'));
    for (const n of [1, 2]) await writeFile(join(ws, 'in', `${n}.txt`), `input ${n}`);
    const r = await farm.cli(['job', 'create', '-n', 'wire', '-s', join(ws, 'task.py'), '-i', join(ws, 'in', '*.txt'), '-r', '-w']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    jobId = r.stdout.match(/job (j_\S+) done/)?.[1] ?? '';
    assert.ok(jobId, r.stdout);
  });
  after(async () => {
    await agent?.kill('SIGINT');
    await farm?.stop();
    if (ws) await rm(ws, { recursive: true, force: true });
  });

  test('an agent that joined and ran tasks loaded no coordinator or store module', async () => {
    const files = [...new Set((await readFile(loads(), 'utf8')).split('\n').filter(Boolean))].map((url) => url.replace(pathToFileURL(REPO).href, ''));
    // The list is real: it names the agent's own modules and the wire constants it shares (PROJECT_DIR).
    for (const own of ['src/agent/agent.ts', 'src/agent/task-runner.ts', 'src/wire/render.ts']) assert.ok(files.includes(own), `${own} missing from the recorded loads:\n${files.join('\n')}`);
    const forbidden = files.filter((f) => f.startsWith('src/coordinator/') || f.startsWith('src/store/'));
    assert.deepEqual(forbidden, [], 'the agent loaded coordinator or store modules');
  });

  test("the coordinator's answers match the wire schemas", async () => {
    const token = await farm.adminToken();
    const get = async (path: string) => {
      const r = await api(farm.url, token, 'GET', path);
      assert.equal(r.status, 200, `GET ${path}: ${JSON.stringify(r.body)}`);
      return r.body;
    };
    assertMatches(JobView, await get(`/jobs/${jobId}`), 'GET /jobs/:id');
    assertMatches(JobList, await get('/jobs'), 'GET /jobs');
    const page = (await get(`/jobs/${jobId}/tasks`)) as TaskPage;
    assertMatches(TaskPage, page, 'GET /jobs/:id/tasks');
    assert.equal(page.tasks.length, 2);
    const taskId = page.tasks[0]!.id;
    assertMatches(TaskDetail, await get(`/tasks/${taskId}`), 'GET /tasks/:id');
    const logs = (await get(`/tasks/${taskId}/logs`)) as LogPage;
    assertMatches(LogPage, logs, 'GET /tasks/:id/logs');
    assert.ok(logs.entries.some((e) => e.data.includes('read input')), 'the task printed its input');
    assertMatches(UserView, await get('/auth/me'), 'GET /auth/me');
    assertMatches(WorkerList, await get('/workers'), 'GET /workers');
    assertMatches(WorkerDetail, await get('/workers/recorded'), 'GET /workers/:id');
  });

  test('the OpenAPI document describes answers, not only requests', async () => {
    type Operation = { responses?: Record<string, { content?: Record<string, { schema?: { properties?: Record<string, unknown> } }> }> };
    const doc = (await api<{ paths: Record<string, Record<string, Operation>> }>(farm.url, null, 'GET', '/openapi.json')).body;
    const answer = (path: string, method: string, status: string) => doc.paths[path]?.[method]?.responses?.[status]?.content?.['application/json']?.schema;
    assert.ok(answer('/api/v1/jobs/{id}', 'get', '200')?.properties?.counts, 'GET /jobs/{id} answers a job view with its counts');
    assert.ok(answer('/api/v1/jobs', 'post', '201')?.properties?.taskCount, 'POST /jobs answers the job it made');
    assert.ok(answer('/api/v1/jobs', 'get', '200')?.properties?.countsByStatus);
    assert.ok(answer('/api/v1/tasks/{id}', 'get', '200')?.properties?.attempts);
    assert.ok(answer('/api/v1/agent/lease', 'post', '200')?.properties?.tasks, 'the agent protocol is described too');
    assert.ok(answer('/api/v1/workers', 'get', '200')?.properties?.workers);
    assert.ok(answer('/api/v1/images', 'get', '200')?.properties?.images, 'images are described');
    assert.ok(answer('/api/v1/images', 'post', '201')?.properties?.ref);
    // Every API route says what its errors look like: {"error": {"code", "message"}}.
    const operations = Object.entries(doc.paths).filter(([path]) => path.startsWith('/api/v1/')).flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) => ({ path, method, op })));
    assert.ok(operations.length > 50, `${operations.length} operations`);
    for (const { path, method, op } of operations) {
      for (const status of ['4XX', '5XX']) {
        const body = op.responses?.[status]?.content?.['application/json']?.schema;
        assert.ok(body?.properties?.error, `${method.toUpperCase()} ${path} describes its ${status} answers`);
      }
    }
  });
});
