// Real farms for end-to-end tests: the coordinator and agents run as separate processes of the
// real `drover` binary, talking real HTTP, in a temporary data directory.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const BIN = join(REPO, 'bin', 'drover.js');

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of live) p.kill('SIGKILL');
});

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  env?: Record<string, string>;
  input?: string;
  cwd?: string;
  timeoutMs?: number;
  /** Called with all it printed on stderr so far, as it prints: a test can wait for a stage. */
  onStderr?: (stderr: string) => void;
}

/** Runs `drover ARGS` as a process and collects what it printed. */
export function runCli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: opts.cwd ?? REPO,
      env: { ...process.env, ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d;
      opts.onStderr?.(stderr);
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`drover ${args.join(' ')} timed out\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, opts.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}

export interface ManagedProcess {
  proc: ChildProcess;
  output(): string;
  /** Sends a signal and waits for the process to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
}

function manage(args: string[], env: Record<string, string>, wrap: string[] = []): ManagedProcess {
  // `wrap` is a command prefix (e.g. `ip netns exec NS`) that ends by running node itself.
  const argv = [...wrap, process.execPath, BIN, ...args];
  const proc = spawn(argv[0]!, argv.slice(1), { cwd: REPO, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(proc);
  let output = '';
  const waiters: (() => void)[] = [];
  const onData = (d: Buffer) => {
    output += d;
    if (process.env.DROVER_TEST_VERBOSE) process.stderr.write(d);
    for (const w of waiters.splice(0)) w();
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  proc.on('exit', () => {
    live.delete(proc);
    for (const w of waiters.splice(0)) w();
  });
  return {
    proc,
    output: () => output,
    kill(signal = 'SIGTERM') {
      return new Promise((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill(signal);
      });
    },
    waitForOutput(pattern, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const deadline = Date.now() + timeoutMs;
        const check = () => {
          const m = output.match(pattern);
          if (m) return resolve(m);
          if (proc.exitCode !== null) return reject(new Error(`process exited before printing ${pattern}:\n${output}`));
          if (Date.now() > deadline) return reject(new Error(`timed out waiting for ${pattern}:\n${output}`));
          waiters.push(check);
          setTimeout(check, 250);
        };
        check();
      });
    },
  };
}

/**
 * A process that did not start as expected is killed before the error is passed on: left running,
 * its pipes kept the test file's process alive after its tests had failed, and the suite waited
 * for it for ever (a coordinator slower than the wait on a loaded machine).
 */
function giveUp(managed: ManagedProcess): (err: unknown) => Promise<never> {
  return async (err) => {
    await managed.kill('SIGKILL');
    throw err;
  };
}

export interface ServerOptions {
  dataDir?: string;
  port?: number;
  env?: Record<string, string>;
  leaseSeconds?: number;
  /** More `drover server` arguments (e.g. --db, --blobs). */
  args?: string[];
  /** Where the join token is read from when --join-token-file moved it (default DATA/agent-token). */
  joinTokenFile?: string;
  /** A command prefix the server runs under (e.g. `['ip', 'netns', 'exec', NS]`). */
  wrap?: string[];
  /** How tests and agents reach the server, when not the URL it prints (e.g. it listens on 0.0.0.0). */
  url?: string;
}

export interface TestServer extends ManagedProcess {
  url: string;
  dataDir: string;
  adminPassword: string;
  joinToken: string;
}

export const ADMIN_PASSWORD = 'admin-test-password';

export async function startServer(opts: ServerOptions = {}): Promise<TestServer> {
  const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), 'drover-test-')));
  const env = { DROVER_ADMIN_PASSWORD: ADMIN_PASSWORD, DROVER_LEASE_SECONDS: String(opts.leaseSeconds ?? 4), ...opts.env };
  const managed = manage(['server', '--port', String(opts.port ?? 0), '--data', dataDir, ...(opts.args ?? [])], env, opts.wrap);
  const [, url] = await managed.waitForOutput(/listening on (https?:\/\/\S+)/).catch(giveUp(managed));
  const joinToken = (await readFile(opts.joinTokenFile ?? join(dataDir, 'agent-token'), 'utf8')).trim();
  return { ...managed, url: opts.url ?? url!, dataDir, adminPassword: ADMIN_PASSWORD, joinToken };
}

export interface AgentOptions {
  name?: string;
  slots?: number;
  workDir?: string;
  extraArgs?: string[];
  env?: Record<string, string>;
  /** A command prefix the agent runs under (e.g. `['ip', 'netns', 'exec', NS]`). */
  wrap?: string[];
}

export async function startAgent(server: { url: string; joinToken: string; dataDir: string }, opts: AgentOptions = {}): Promise<ManagedProcess & { workDir: string; name: string }> {
  const name = opts.name ?? `agent-${Math.random().toString(36).slice(2, 7)}`;
  const workDir = opts.workDir ?? join(server.dataDir, 'agents', name);
  const managed = manage(['agent', '--server', server.url, '--name', name, '--slots', String(opts.slots ?? 1), '--work-dir', workDir, ...(opts.extraArgs ?? [])], {
    DROVER_AGENT_TOKEN: server.joinToken,
    ...opts.env,
  }, opts.wrap);
  await managed.waitForOutput(/joined /).catch(giveUp(managed));
  return { ...managed, workDir, name };
}

export interface Farm {
  url: string;
  dataDir: string;
  adminPassword: string;
  server: TestServer;
  agents: (ManagedProcess & { workDir: string; name: string })[];
  /** Runs the CLI signed in as admin (its own config file). */
  cli(args: string[], opts?: CliOptions): Promise<CliResult>;
  /** A CLI signed in as another user (created by admin when missing). */
  userCli(name: string, password?: string): Promise<(args: string[], opts?: CliOptions) => Promise<CliResult>>;
  /** Admin's API token, for direct HTTP calls. */
  adminToken(): Promise<string>;
  stop(): Promise<void>;
}

export async function startFarm(opts: { agents?: number; slots?: number; env?: Record<string, string>; leaseSeconds?: number; agentArgs?: string[] } = {}): Promise<Farm> {
  const server = await startServer({ ...(opts.env ? { env: opts.env } : {}), ...(opts.leaseSeconds ? { leaseSeconds: opts.leaseSeconds } : {}) });
  const agents: Farm['agents'] = [];
  for (let i = 0; i < (opts.agents ?? 1); i++) {
    agents.push(await startAgent(server, { name: `agent-${i + 1}`, slots: opts.slots ?? 1, ...(opts.agentArgs ? { extraArgs: opts.agentArgs } : {}), ...(opts.env ? { env: opts.env } : {}) }));
  }
  const cliFor = (configFile: string) => (args: string[], o: CliOptions = {}) =>
    runCli(args, { ...o, env: { DROVER_CONFIG: configFile, DROVER_SERVER: server.url, ...opts.env, ...o.env } });
  const adminCli = cliFor(join(server.dataDir, 'cli-admin.json'));
  const login = await adminCli(['login', '-u', 'admin', '-p', ADMIN_PASSWORD]);
  if (login.code !== 0) throw new Error(`admin login failed: ${login.stderr}`);
  const createdUsers = new Set<string>();
  return {
    url: server.url,
    dataDir: server.dataDir,
    adminPassword: ADMIN_PASSWORD,
    server,
    agents,
    cli: adminCli,
    async userCli(name, password = `${name}-password`) {
      if (!createdUsers.has(name)) {
        const r = await adminCli(['user', 'add', name, '--password', password]);
        if (r.code !== 0) throw new Error(`user add failed: ${r.stderr}`);
        createdUsers.add(name);
      }
      const cli = cliFor(join(server.dataDir, `cli-${name}.json`));
      const r = await cli(['login', '-u', name, '-p', password]);
      if (r.code !== 0) throw new Error(`login as ${name} failed: ${r.stderr}`);
      return cli;
    },
    async adminToken() {
      return (JSON.parse(await readFile(join(server.dataDir, 'cli-admin.json'), 'utf8')) as { token: string }).token;
    },
    async stop() {
      await Promise.all(agents.map((a) => a.kill('SIGINT')));
      await server.kill('SIGTERM');
      if (!process.env.DROVER_KEEP_TEST_DATA) await rm(server.dataDir, { recursive: true, force: true });
    },
  };
}

/** Polls `fn` until it returns a truthy value. */
export async function eventually<T>(fn: () => Promise<T | undefined | null | false>, timeoutMs = 30_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * A job with all its tasks, as `drover job view ID --json` prints it (the job's view and every page
 * of its tasks), read over the API as admin. For tests that poll a job while they wait on it: a CLI
 * run costs about 0.2 s of CPU, a poll every 200 ms kept a core half busy; the CLI's own view is
 * tested where it is the subject.
 */
export async function jobJson<T = unknown>(farm: Pick<Farm, 'url' | 'adminToken'>, id: string): Promise<T> {
  const token = await farm.adminToken();
  const job = await api<Record<string, unknown>>(farm.url, token, 'GET', `/jobs/${id}`);
  if (job.status !== 200) throw new Error(`GET /jobs/${id}: ${job.status} ${JSON.stringify(job.body)}`);
  const tasks: unknown[] = [];
  for (let offset = 0; ; offset += 1000) {
    const page = await api<{ tasks: unknown[]; total: number }>(farm.url, token, 'GET', `/jobs/${id}/tasks?offset=${offset}&limit=1000`);
    if (page.status !== 200) throw new Error(`GET /jobs/${id}/tasks: ${page.status} ${JSON.stringify(page.body)}`);
    tasks.push(...page.body.tasks);
    if (tasks.length >= page.body.total || page.body.tasks.length === 0) break;
  }
  return { ...job.body, tasks } as T;
}

/** A JSON call to the farm's API with a token. */
export async function api<T = unknown>(url: string, token: string | null, method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(`${url}/api/v1${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, body: parsed as T };
}
