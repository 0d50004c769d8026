// The floor of the scale bench: a stand-in coordinator that speaks the three agent endpoints the
// simulated agents use (register, lease, complete+lease) with canned answers and no store, on
// node:http. Run as its own process, like `drover server`, so the simulated agents pay the same
// client costs; what the real coordinator adds on top of this is Drover's own cost.
//   node --import tsx bench/canned-coordinator.ts TOTAL_TASKS [HEARTBEAT_SECONDS]
// Prints "listening on URL"; POST /api/v1/start releases the tasks (the agents wait in long-polls).
import http from 'node:http';
import { createHash } from 'node:crypto';

const total = Number(process.argv[2] ?? 20_000);
/** The interval the join answer asks heartbeats at (the real coordinator's: a quarter of the lease). */
const heartbeatSeconds = Number(process.argv[3] ?? 30);
const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const script = { name: 'noop.sh', sha256: sha('#!/bin/sh\n') };
let issued = 0;
let agents = 0;
let started = false;
const waiting: ((timedOut: boolean) => void)[] = [];

/** A leased task shaped as the real one of a script job (same fields, similar size). */
interface Wish {
  freeCores?: number;
  maxTasks?: number;
  prefetch?: number;
  holding?: number;
}

/**
 * As the real coordinator (leaseForMany): tasks to run now, then prefetch filling the agent's hold
 * up to its slot, one task waiting and its share of the queue (queued / agents).
 */
function nextTasks(wish: Wish): unknown[] {
  const tasks: unknown[] = [];
  const now = Math.min(wish.freeCores ?? 1, wish.maxTasks ?? 1);
  while (started && issued < total && tasks.length < now) tasks.push(nextTask(++issued));
  const queued = total - issued;
  const prefetch = Math.min(wish.prefetch ?? 0, 1 + 1 + Math.floor(queued / agents) - (wish.holding ?? 0) - tasks.length, queued);
  for (let i = 0; started && i < prefetch; i++) tasks.push(nextTask(++issued));
  return tasks;
}

function nextTask(index: number): unknown {
  const input = `input-${String(index).padStart(6, '0')}.txt`;
  return {
      taskId: `00000000-0000-4000-8000-${String(index).padStart(12, '0')}`,
      jobId: '00000000-0000-4000-8000-000000000000',
      index,
      attempt: 1,
      kind: 'script',
      cores: 1,
      timeoutSeconds: null,
      image: null,
      network: false,
      files: [script, { name: input, sha256: sha(input) }],
      script: script.name,
      input,
      jobSpec: { script, constants: [], network: false },
      taskSpec: null,
    };
}

function send(res: http.ServerResponse, body: string): void {
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = chunks.length ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>) : {};
    switch (req.url) {
      case '/api/v1/agents/register':
        agents++;
        return send(res, JSON.stringify({ agentId: sha(String(body.name)).slice(0, 32), agentToken: `drv_a_${sha(String(body.name))}`, leaseSeconds: heartbeatSeconds * 4, heartbeatSeconds }));
      case '/api/v1/agent/lease': {
        const tasks = nextTasks(body as Wish);
        if (tasks.length > 0) return send(res, JSON.stringify({ tasks }));
        // A long-poll, as the real one: held until the start, or answered empty after waitSeconds.
        const timer = setTimeout(() => answer(true), Number(body.waitSeconds ?? 0) * 1000);
        const answer = (timedOut: boolean) => {
          clearTimeout(timer);
          const i = waiting.indexOf(answer);
          if (i >= 0) waiting.splice(i, 1);
          send(res, JSON.stringify({ tasks: timedOut ? [] : nextTasks(body as Wish) }));
        };
        return void waiting.push(answer);
      }
      case '/api/v1/agent/complete': {
        const completions = (body.completions as { taskId: string }[]) ?? [];
        return send(res, JSON.stringify({ results: completions.map((c) => ({ taskId: c.taskId, accepted: true })), tasks: body.lease ? nextTasks(body.lease as Wish) : [] }));
      }
      case '/api/v1/agent/heartbeat':
        // Every lease renewed, nothing to stop or give back.
        return send(res, JSON.stringify({ cancel: [], endedJobs: [], giveBack: [] }));
      case '/api/v1/start':
        started = true;
        for (const answer of waiting.slice()) answer(false);
        return send(res, '{}');
      default:
        res.writeHead(404).end();
    }
  });
});
server.keepAliveTimeout = 60_000;
// The accept queue of the real coordinator (LISTEN_BACKLOG in coordinator.ts).
server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => {
  const { port } = server.address() as { port: number };
  console.log(`listening on http://127.0.0.1:${port}`);
});
