// Helpers for the reliability and security suites: workspaces, a CLI bound to any server, reading
// a process's memory, and looking into the store directly.
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { ADMIN_PASSWORD, type CliOptions, type CliResult, api, eventually, runCli } from './farm.js';

/** A fresh folder holding `files` (name → content; names may hold subfolders): the end-to-end suites' job inputs. */
export async function makeWorkspace(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'drover-ws-'));
  for (const [name, content] of Object.entries(files)) {
    await mkdir(join(dir, name, '..'), { recursive: true });
    await writeFile(join(dir, name), content);
  }
  return dir;
}

export type Cli = (args: string[], opts?: CliOptions) => Promise<CliResult>;

/** A CLI signed in as admin to `server` (its own config file under `configDir`). */
export async function adminCli(server: { url: string }, configDir: string, env: Record<string, string> = {}): Promise<Cli> {
  const configFile = join(configDir, `cli-admin-${Math.random().toString(36).slice(2, 7)}.json`);
  const cli: Cli = (args, o = {}) => runCli(args, { ...o, env: { DROVER_CONFIG: configFile, DROVER_SERVER: server.url, ...env, ...o.env } });
  const login = await cli(['login', '-u', 'admin', '-p', ADMIN_PASSWORD]);
  if (login.code !== 0) throw new Error(`admin login failed: ${login.stderr}`);
  return cli;
}

export async function tokenOf(configFile: string): Promise<string> {
  return (JSON.parse(await readFile(configFile, 'utf8')) as { token: string }).token;
}

export async function loginToken(url: string, username: string, password: string): Promise<string> {
  const r = await api<{ token: string }>(url, null, 'POST', '/auth/login', { username, password });
  if (r.status !== 200) throw new Error(`login as ${username} failed: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.token;
}

/** Resident memory of a process in bytes, now (`VmRSS`) or at its peak (`VmHWM`), from /proc. */
export async function memoryOf(pid: number, field: 'VmRSS' | 'VmHWM' = 'VmRSS'): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const m = status.match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'));
  return m ? Number(m[1]) * 1024 : 0;
}

export interface JobJson {
  id: string;
  status: string;
  counts: Record<string, number>;
  blockedAgents: string[];
}
export interface TaskJson {
  id: string;
  index: number;
  status: string;
  attempts: number;
  agent: string | null;
  error: string | null;
  startedAt: string | null;
}
export interface AttemptJson {
  attempt: number;
  agent: string | null;
  status: string;
  error: string | null;
}
export interface ResultsJson {
  tasks: { id: string; index: number; status: string; files: { path: string; sha256: string; size: number }[] }[];
}

export async function jobOf(url: string, token: string, id: string): Promise<JobJson> {
  return (await api<JobJson>(url, token, 'GET', `/jobs/${id}`)).body;
}

export async function tasksOf(url: string, token: string, id: string): Promise<TaskJson[]> {
  return (await api<{ tasks: TaskJson[] }>(url, token, 'GET', `/jobs/${id}/tasks?limit=1000`)).body.tasks;
}

export async function attemptsOf(url: string, token: string, taskId: string): Promise<AttemptJson[]> {
  return (await api<{ attempts: AttemptJson[] }>(url, token, 'GET', `/tasks/${taskId}`)).body.attempts;
}

const TERMINAL = ['done', 'error', 'canceled'];

export async function waitForJobStatus(url: string, token: string, id: string, status: string | string[], timeoutMs = 90_000): Promise<JobJson> {
  const wanted = Array.isArray(status) ? status : [status];
  return eventually(async () => {
    const job = await jobOf(url, token, id);
    if (wanted.includes(job.status)) return job;
    // A job that ended otherwise will not change: say how, rather than wait out the timeout.
    if (TERMINAL.includes(job.status)) {
      const tasks = await tasksOf(url, token, id);
      const errors = tasks.filter((t) => t.error).map((t) => `task ${t.index} (${t.status}, ${t.attempts} attempt(s)): ${t.error}`);
      throw new Error(`job ${id} is ${job.status}, not ${wanted.join(' or ')}${errors.length ? `:\n${errors.join('\n')}` : ''}`);
    }
    return null;
  }, timeoutMs, `job ${id} to be ${wanted.join(' or ')}`);
}

/** Downloads one result file of a job as text. */
export async function fileText(url: string, token: string, jobId: string, sha256: string): Promise<string> {
  const res = await fetch(`${url}/api/v1/jobs/${jobId}/files/${sha256}`, { headers: { authorization: `Bearer ${token}` } });
  if (!res.ok) throw new Error(`file ${sha256}: HTTP ${res.status}`);
  return res.text();
}

/** Opens the coordinator's SQLite store read-only (WAL lets us read while it runs). */
export function openStore(dataDir: string): SQLite.Database {
  return new SQLite(join(dataDir, 'drover.sqlite'), { readonly: true, fileMustExist: true });
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
