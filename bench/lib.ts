// Shared pieces of the benchmarks: the machine, a real coordinator process, a keep-alive JSON
// client, simulated agents that speak the real agent protocol, and process CPU/memory sampling.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os, { tmpdir } from 'node:os';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { BIN, REPO } from '../test/helpers/farm.js';
import { workRequest, type Completion, type LeaseRequest } from '../src/agent/protocol.js';

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of live) p.kill('SIGKILL');
});

export const sha256 = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function machine(): { nproc: number; memory: string; cpu: string; node: string; os: string } {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const cpu = /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1]?.trim() ?? 'unknown';
  const nproc = Number(execFileSync('nproc').toString().trim());
  const mem = /MemTotal:\s*(\d+)/.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1];
  let osName = os.type();
  try {
    osName = /PRETTY_NAME="([^"]*)"/.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? osName;
  } catch {
    /* keep os.type() */
  }
  return { nproc, memory: `${(Number(mem) / 1024 / 1024).toFixed(1)} GiB`, cpu, node: process.version, os: osName };
}

// ---------------------------------------------------------------------------------------------
// HTTP

const keepAlive = new http.Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 4096, noDelay: true } as http.AgentOptions);

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`HTTP ${status}: ${body.slice(0, 300)}`);
  }
}

/** One JSON request over a kept-alive connection (cheaper than fetch at these rates). */
export function request<T = unknown>(base: string, token: string | null, method: string, path: string, body?: unknown, raw?: Buffer): Promise<T> {
  const url = new URL(`/api/v1${path}`, base);
  const payload = raw ?? (body !== undefined ? Buffer.from(JSON.stringify(body)) : undefined);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        agent: keepAlive,
        host: url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        method,
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(payload ? { 'content-type': raw ? 'application/octet-stream' : 'application/json', 'content-length': payload.length } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if ((res.statusCode ?? 0) >= 400) return reject(new HttpError(res.statusCode ?? 0, text));
          resolve((text ? JSON.parse(text) : undefined) as T);
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (payload) req.end(payload);
    else req.end();
  });
}

/**
 * One simulated agent's own kept-alive connection: requests written as raw HTTP/1.1, answers read by
 * Content-Length, in order. A thousand simulated agents share this process's one core with their
 * timers, and node:http's client machinery (a ClientRequest, an IncomingMessage and the agent's
 * socket pool for every request) was most of what they spent per request: that is this harness's
 * cost, not the farm's, and it held back the floor row (canned answers) as much as the real one.
 */
export class AgentConnection {
  private socket: net.Socket | null = null;
  private pending: Buffer = Buffer.alloc(0);
  private readonly waiting: { resolve(value: unknown): void; reject(err: Error): void }[] = [];
  private readonly host: string;
  private readonly port: number;

  constructor(base: string) {
    const url = new URL(base);
    if (url.protocol !== 'http:') throw new Error(`AgentConnection speaks plain HTTP only, not ${url.protocol}`);
    this.host = url.hostname;
    this.port = Number(url.port || 80);
  }

  /** A JSON request under /api/v1; requests on one connection are answered in the order sent. */
  request<T>(token: string, method: string, path: string, body?: unknown): Promise<T> {
    const payload = body === undefined ? '' : JSON.stringify(body);
    const head =
      `${method} /api/v1${path} HTTP/1.1\r\nHost: ${this.host}:${this.port}\r\nAuthorization: Bearer ${token}\r\n` +
      (payload ? `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(payload)}\r\n` : '') +
      '\r\n';
    return new Promise<T>((resolve, reject) => {
      this.waiting.push({ resolve: resolve as (value: unknown) => void, reject });
      this.connection().write(head + payload);
    });
  }

  /**
   * Opens the connection now (the first request would otherwise): thousands of agents connecting in
   * the same instant overflow the coordinator's accept queue, and a dropped SYN is sent again only
   * after 1, 3, 7, 15, 31 s, which would pass for the farm's slowness.
   */
  open(): Promise<void> {
    const socket = this.connection();
    if (!socket.connecting) return Promise.resolve();
    return new Promise((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('error', reject);
    });
  }

  private connection(): net.Socket {
    if (this.socket) return this.socket;
    const socket = net.connect(this.port, this.host);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.read(chunk));
    socket.on('error', (err) => this.fail(err));
    socket.on('close', () => this.fail(new Error('the coordinator closed the connection')));
    return (this.socket = socket);
  }

  private read(chunk: Buffer): void {
    this.pending = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    for (;;) {
      const headEnd = this.pending.indexOf('\r\n\r\n');
      if (headEnd < 0) return;
      const head = this.pending.toString('latin1', 0, headEnd);
      const length = /\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1];
      if (length === undefined) return this.fail(new Error(`an answer without Content-Length: ${head.split('\r\n')[0]}`));
      const end = headEnd + 4 + Number(length);
      if (this.pending.length < end) return;
      const status = Number(head.slice(9, 12));
      const text = this.pending.toString('utf8', headEnd + 4, end);
      this.pending = this.pending.subarray(end);
      const waiter = this.waiting.shift();
      if (!waiter) return this.fail(new Error('an answer nobody asked for'));
      if (status >= 400) waiter.reject(new HttpError(status, text));
      else waiter.resolve(text ? JSON.parse(text) : undefined);
    }
  }

  /** The connection is gone: whoever waits hears why; the next request opens a new one. */
  private fail(err: Error): void {
    this.socket?.destroy();
    this.socket = null;
    this.pending = Buffer.alloc(0);
    for (const waiter of this.waiting.splice(0)) waiter.reject(err);
  }
}

// ---------------------------------------------------------------------------------------------
// A coordinator

export interface Coordinator {
  url: string;
  pid: number;
  dataDir: string;
  joinToken: string;
  admin: string;
  adminPassword: string;
  output(): string;
  stop(): Promise<void>;
}

const ADMIN_PASSWORD = 'bench-admin-password';

/** The node flags of the `drover` command's shebang (bin/drover.js): the coordinator runs as the command runs it. */
function commandNodeFlags(): string[] {
  const shebang = readFileSync(BIN, 'utf8').split('\n', 1)[0]!;
  return shebang.replace(/^#!.*?\bnode\b/, '').trim().split(/\s+/).filter(Boolean);
}

/** `drover server` as its own process (node flags such as --cpu-prof allowed), on a free port. */
export async function startCoordinator(
  opts: {
    db?: string;
    leaseSeconds?: number;
    env?: Record<string, string>;
    /** More `drover server` flags (replicas: `--blobs DIR`); `--join-token-file` goes in `joinTokenFile`. */
    args?: string[];
    /** Where the join token is kept (replicas share one file); default DATA/agent-token. */
    joinTokenFile?: string;
  } = {},
): Promise<Coordinator> {
  const dataDir = await mkdtemp(join(tmpdir(), 'drover-bench-'));
  // DROVER_BENCH_NODE_ARGS='--cpu-prof --cpu-prof-dir=DIR' profiles the coordinator of any bench
  // (node 20 refuses --cpu-prof in NODE_OPTIONS, so node is started here, with the command's flags).
  const nodeArgs = process.env.DROVER_BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const args = [...commandNodeFlags(), ...nodeArgs, BIN, 'server', '--port', '0', '--data', dataDir, ...(opts.db ? ['--db', opts.db] : [])];
  if (opts.joinTokenFile) args.push('--join-token-file', opts.joinTokenFile);
  args.push(...(opts.args ?? []));
  const proc = spawn(process.execPath, args, {
    cwd: REPO,
    env: { ...process.env, DROVER_ADMIN_PASSWORD: ADMIN_PASSWORD, DROVER_LEASE_SECONDS: String(opts.leaseSeconds ?? 120), ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(proc);
  proc.on('exit', () => live.delete(proc));
  let output = '';
  proc.stdout!.on('data', (d: Buffer) => (output += d));
  proc.stderr!.on('data', (d: Buffer) => (output += d));
  const deadline = Date.now() + 60_000;
  let url: string | undefined;
  while (!(url = /listening on (https?:\/\/\S+)/.exec(output)?.[1])) {
    if (proc.exitCode !== null || Date.now() > deadline) throw new Error(`drover server did not start:\n${output}`);
    await sleep(50);
  }
  const joinToken = (await readFile(opts.joinTokenFile ?? join(dataDir, 'agent-token'), 'utf8')).trim();
  const login = await request<{ token: string }>(url, null, 'POST', '/auth/login', { username: 'admin', password: ADMIN_PASSWORD });
  return {
    url,
    pid: proc.pid!,
    dataDir,
    joinToken,
    admin: login.token,
    adminPassword: ADMIN_PASSWORD,
    output: () => output,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
        proc.kill('SIGTERM');
        const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(timer);
      }
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Uploads bytes as the caller (idempotent) and returns their hash. */
export async function upload(c: { url: string }, token: string, bytes: Buffer): Promise<string> {
  const hash = sha256(bytes);
  const { missing } = await request<{ missing: string[] }>(c.url, token, 'POST', '/blobs/missing', { hashes: [hash] });
  if (missing.length > 0) await request(c.url, token, 'PUT', `/blobs/${hash}`, undefined, bytes);
  return hash;
}

/** A script job with `n` inputs (one task each) that all share one input blob. */
export async function scriptJobSpec(c: { url: string }, token: string, n: number, name: string) {
  const script = await upload(c, token, Buffer.from('#!/bin/sh\ntrue\n'));
  const input = await upload(c, token, Buffer.from('x\n'));
  const inputs = Array.from({ length: n }, (_, i) => ({ name: `in-${String(i + 1).padStart(6, '0')}.txt`, sha256: input }));
  return { kind: 'script', name, script: { name: 'run.sh', sha256: script }, inputs, start: true, maxAttempts: 3 };
}

// ---------------------------------------------------------------------------------------------
// Simulated agents: the real protocol, no processes.

export interface Leased {
  taskId: string;
  jobId: string;
  attempt: number;
}

export const EMPTY_SHA = sha256('');

export class SimAgent {
  id = '';
  token = '';
  batchEndpoint = false;
  /** How often the coordinator asked it to send a heartbeat (its join answer). */
  heartbeatSeconds = 0;
  /** Leases and batch reports, one at a time per agent: its own connection (see AgentConnection). */
  private readonly connection: AgentConnection;
  constructor(
    readonly url: string,
    readonly name: string,
    readonly slots: number,
  ) {
    this.connection = new AgentConnection(url);
  }

  /** Opens its connection ahead of its first request (see AgentConnection.open). */
  connect(): Promise<void> {
    return this.connection.open();
  }

  async register(joinToken: string): Promise<void> {
    const r = await request<{ agentId: string; agentToken: string; heartbeatSeconds: number }>(this.url, joinToken, 'POST', '/agents/register', {
      name: this.name,
      cores: this.slots,
      memoryBytes: 8 * 1024 ** 3,
      labels: {},
      slots: this.slots,
      sandbox: false,
      version: 'bench',
    });
    this.id = r.agentId;
    this.token = r.agentToken;
    this.heartbeatSeconds = r.heartbeatSeconds;
  }

  /**
   * One request about work, as the real agent sends it (both are built by src/agent/protocol.ts):
   * the no-op tasks that ended, reported with `wish`, the lease, in one request; or the lease alone
   * (a long-poll when it may start work now). Returns the tasks leased.
   */
  async ask(ended: readonly Leased[], wish: LeaseRequest | null): Promise<Leased[]> {
    if (!this.batchEndpoint && ended.length > 0) {
      // A coordinator older than POST /agent/complete (or --per-task): a report per task, then the lease.
      await Promise.all(ended.map(({ taskId, ...t }) => request(this.url, this.token, 'POST', `/agent/tasks/${taskId}/complete`, noopCompletion({ taskId, ...t }))));
      return wish ? this.ask([], wish) : [];
    }
    const next = workRequest(ended.map(noopCompletion), wish);
    if (!next) return [];
    const r = await this.connection.request<{ results?: { taskId: string; accepted: boolean }[]; tasks?: Leased[] }>(this.token, 'POST', next.path, next.body);
    const refused = (r.results ?? []).filter((x) => !x.accepted);
    if (refused.length > 0) throw new Error(`${refused.length} completions refused: ${JSON.stringify(refused[0])}`);
    return r.tasks ?? [];
  }
}

/** A no-op task's report: success, no files, empty stdout and stderr (the empty blob, uploaded once). */
export function noopCompletion(t: Leased): Completion {
  return { taskId: t.taskId, attempt: t.attempt, exitCode: 0, files: [], stdout: { sha256: EMPTY_SHA, size: 0 }, stderr: { sha256: EMPTY_SHA, size: 0 } };
}

export async function hasBatchEndpoint(c: { url: string }): Promise<boolean> {
  try {
    await request(c.url, 'drv_a_nobody', 'POST', '/agent/complete', { completions: [] });
    return true;
  } catch (err) {
    return err instanceof HttpError && err.status !== 404;
  }
}

// ---------------------------------------------------------------------------------------------
// Process CPU and memory from /proc

const CLK_TCK = 100;

export interface ProcSample {
  cpuSeconds: number;
  rssBytes: number;
  hwmBytes: number;
}

export function procSample(pid: number): ProcSample {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After "(comm) ": state is field 3, utime field 14, stime field 15 (1-based over the whole line).
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`${key}:\\s*(\\d+)`).exec(status)?.[1] ?? 0) * 1024;
  return { cpuSeconds: (utime + stime) / CLK_TCK, rssBytes: kb('VmRSS'), hwmBytes: kb('VmHWM') };
}

/** Samples a process every `everyMs` until stopped: CPU used over the window, peak and mean RSS. */
export function sampleProcess(pid: number, everyMs = 200) {
  const first = procSample(pid);
  const started = performance.now();
  let peakRss = first.rssBytes;
  let rssSum = 0;
  let n = 0;
  const timer = setInterval(() => {
    try {
      const s = procSample(pid);
      peakRss = Math.max(peakRss, s.rssBytes);
      rssSum += s.rssBytes;
      n++;
    } catch {
      /* exited */
    }
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      const last = procSample(pid);
      const wall = (performance.now() - started) / 1000;
      const cpu = last.cpuSeconds - first.cpuSeconds;
      return { wallSeconds: wall, cpuSeconds: cpu, cpuPercent: (100 * cpu) / wall, peakRssMiB: Math.max(peakRss, last.rssBytes) / 2 ** 20, meanRssMiB: (n ? rssSum / n : last.rssBytes) / 2 ** 20 };
    },
  };
}

/**
 * Submits `spec` as a job while the simulated agents already wait, and times it until `done()`
 * reaches `total`, sampling the coordinator meanwhile; the job must then be done with every task.
 */
export async function timeJob(c: Coordinator, spec: unknown, total: number, done: () => number, sampleEveryMs = 200) {
  const sampler = sampleProcess(c.pid, sampleEveryMs);
  const t0 = performance.now();
  const job = await request<{ id: string }>(c.url, c.admin, 'POST', '/jobs', spec);
  const tSubmitted = performance.now();
  while (done() < total) await sleep(5);
  const tDone = performance.now();
  const stats = sampler.stop();
  const view = await request<{ status: string; counts: Record<string, number> }>(c.url, c.admin, 'GET', `/jobs/${job.id}`);
  if (view.status !== 'done' || view.counts.done !== total) throw new Error(`job ended ${view.status} with counts ${JSON.stringify(view.counts)}`);
  return { submitted: tSubmitted, submitSeconds: (tSubmitted - t0) / 1000, seconds: (tDone - tSubmitted) / 1000, stats };
}

export const fmt = (x: number, digits = 0) => x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** Bytes as whole MiB, e.g. "424 MiB". */
export const mib = (bytes: number) => `${fmt(bytes / 2 ** 20)} MiB`;

export function percentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

export interface Row {
  [column: string]: string;
}

export function table(rows: readonly Row[]): string {
  if (rows.length === 0) return '';
  const cols = Object.keys(rows[0]!);
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(cols), line(cols.map(() => '---')), ...rows.map((r) => line(cols.map((c) => r[c] ?? '')))].join('\n');
}
