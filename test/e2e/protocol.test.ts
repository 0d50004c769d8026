// The benchmarks measure the protocol deployed agents speak: a real `drover agent` and the
// benchmarks' simulated agent (bench/lib.ts SimAgent in bench/scale.ts's one-slot loop) run the same
// job on a real coordinator, through a proxy that records every request about work (POST
// /agent/lease and /agent/complete), and must have sent the same requests in the same order.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { api, eventually, startAgent, startServer, type TestServer } from '../helpers/farm.js';
import { loginToken } from '../helpers/reliability.js';
import { SimAgent, scriptJobSpec } from '../../bench/lib.js';
import { oneAtATime, Timeline } from '../../bench/scale.js';

const WORK_PATHS = new Set(['/api/v1/agent/lease', '/api/v1/agent/complete']);

interface Recorded {
  path: string;
  body: unknown;
}

/** An HTTP proxy in front of the coordinator that keeps the requests about work, in arrival order. */
async function recordingProxy(target: string): Promise<{ url: string; count(): number; take(): Recorded[]; close(): Promise<void> }> {
  const upstream = new URL(target);
  let recorded: Recorded[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (req.method === 'POST' && WORK_PATHS.has(req.url ?? '')) recorded.push({ path: req.url!.replace('/api/v1', ''), body: JSON.parse(body.toString('utf8')) });
      const forward = http.request({ host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: { ...req.headers, host: upstream.host } }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      forward.on('error', () => res.destroy());
      res.on('close', () => forward.destroy());
      forward.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    count: () => recorded.length,
    take() {
      const taken = recorded;
      recorded = [];
      return taken;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * The requests up to the last report, with task ids named by order of appearance (each run has its
 * own job), and a long-poll repeated because it ended empty counted once.
 */
function normalized(requests: readonly Recorded[]): string[] {
  const names = new Map<string, string>();
  const lastReport = requests.map((r) => r.path).lastIndexOf('/agent/complete');
  const out: string[] = [];
  for (const r of requests.slice(0, lastReport + 1)) {
    const text = JSON.stringify(r.body, (key, value: unknown) => {
      if (key !== 'taskId' || typeof value !== 'string') return value;
      if (!names.has(value)) names.set(value, `task-${names.size + 1}`);
      return names.get(value);
    });
    const line = `${r.path} ${text}`;
    if (out[out.length - 1] !== line) out.push(line);
  }
  return out;
}

describe('the agent protocol: the real agent and the benchmarks’ simulated agent', { timeout: 300_000 }, () => {
  let server: TestServer;
  let proxy: Awaited<ReturnType<typeof recordingProxy>>;
  let token: string;
  before(async () => {
    server = await startServer();
    proxy = await recordingProxy(server.url);
    token = await loginToken(server.url, 'admin', server.adminPassword);
  });
  after(async () => {
    await proxy?.close();
    await server?.kill();
  });

  /** Runs a job of 3 tasks that print nothing (the benchmarks' script job) to its end. */
  async function runJob(name: string): Promise<void> {
    const created = await api<{ id: string }>(server.url, token, 'POST', '/jobs', await scriptJobSpec(server, token, 3, name));
    assert.equal(created.status, 201, JSON.stringify(created.body));
    await eventually(async () => (await api<{ status: string }>(server.url, token, 'GET', `/jobs/${created.body.id}`)).body.status === 'done', 120_000, `job ${name} to be done`);
  }

  test('one slot, the same job: the same requests about work, in the same order', async () => {
    const agent = await startAgent({ ...server, url: proxy.url }, { name: 'real', slots: 1 });
    await eventually(async () => proxy.count() > 0 || null, 30_000, 'the real agent to ask for work'); // idle: a long-poll
    await runJob('real agent');
    await agent.kill('SIGINT');
    const real = normalized(proxy.take());

    const sim = new SimAgent(proxy.url, 'simulated', 1);
    await sim.register(server.joinToken);
    sim.batchEndpoint = true;
    const loops = oneAtATime([sim], { agents: 1, tasks: 3, taskMs: 50, prefetch: 0 }, true, new Timeline());
    await eventually(async () => proxy.count() > 0 || null, 30_000, 'the simulated agent to ask for work');
    await runJob('simulated agent');
    await eventually(async () => loops.done() >= 3 || null, 30_000, 'the simulated agent to have reported all');
    await loops.stop();
    const simulated = proxy.take();

    // What each sent: a long-poll for work, then each task reported with the next lease in one request.
    assert.deepEqual(real.slice(0, 2), [
      '/agent/lease {"freeCores":1,"waitSeconds":20}',
      `/agent/complete {"completions":[{"taskId":"task-1","attempt":1,"exitCode":0,"files":[],"stdout":{"sha256":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","size":0},"stderr":{"sha256":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","size":0}}],"lease":{"freeCores":1}}`,
    ]);
    assert.deepEqual(normalized(simulated), real);
  });
});
