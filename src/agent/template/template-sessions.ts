// OpenJD sessions on an agent: consecutive tasks of one step of one job share a session (its
// working directory, its data, the environments entered for it). A session enters the job's and
// the step's environments once, in order, when it starts (onEnter, with `openjd_env` lines changing
// the variables of later actions) and exits them in reverse order when it ends (onExit): after it
// has been idle too long, when its job ends, or when the agent stops.
import { chmod, link, mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import type { ApiClient } from '../../client/api-client.js';
import type { TemplateJobSpec } from '../../wire/templates.js';
import type { StepInputsAnswer } from '../../wire/agents.js';
import { type EmbeddedFile, type Environment } from '../../core/templates/template.js';
import { mapLookup, resolveFormatString } from '../../core/templates/format-string.js';
import { LineSplitter, parseStdoutMessage } from '../../core/templates/stdout-messages.js';
import type { BlobCache } from '../blob-cache.js';
import type { ProcessSpec } from '../isolation/process-spec.js';
import type { Launch } from '../task-runner.js';
import { type ActionIO, runAction } from './run-action.js';

/** Runs a process spec the way the agent runs the task's processes (confined, or in its container). */
export type SessionLaunch = (spec: ProcessSpec, log: (line: string) => void) => Promise<Launch>;

export interface SessionOptions {
  root: string;
  blobs: BlobCache;
  client: ApiClient;
  /** Close a session idle this long (DROVER_SESSION_IDLE_SECONDS, default 60). */
  idleSeconds: number;
  log(line: string): void;
}

/** A PATH parameter's place in the session: `params/<name>` (a directory, or holding the file). */
export function paramDir(sessionDir: string, name: string): string {
  return join(sessionDir, 'params', name);
}

const ON_EXIT_DEFAULT_TIMEOUT = 300;

export class TemplateSession {
  readonly env = new Map<string, string>();
  readonly unset = new Set<string>();
  private readonly entered: { env: Environment; scope: string }[] = [];
  idleTimer: NodeJS.Timeout | null = null;
  closed = false;

  constructor(
    readonly key: string,
    readonly jobId: string,
    readonly step: number,
    readonly dir: string,
    readonly spec: TemplateJobSpec,
    /** Where the task sees `dir` (`/local` in a container). */
    readonly visibleDir: string,
    private readonly launch: SessionLaunch,
  ) {}

  /** The path a task sees for a path under the session directory. */
  visible(hostPath: string): string {
    return join(this.visibleDir, relative(this.dir, hostPath));
  }

  /** Values every action of the session may name: job parameters (PATH ones mapped into the session) and Session.*. */
  baseValues(): Map<string, string> {
    const values = new Map<string, string>();
    for (const [name, p] of Object.entries(this.spec.parameters)) {
      values.set(`RawParam.${name}`, p.value);
      const data = this.spec.dataParameters[name];
      let mapped = p.value;
      if (data) {
        const base = this.visible(paramDir(this.dir, name));
        mapped = data.objectType === 'FILE' ? join(base, basename(p.value)) : base;
      }
      values.set(`Param.${name}`, mapped);
    }
    values.set('Session.WorkingDirectory', this.visibleDir);
    values.set('Session.HasPathMappingRules', 'false');
    values.set('Session.PathMappingRulesFile', this.visible(join(this.dir, '.drover', 'path-mapping.json')));
    return values;
  }

  /** The environment of an action: the task's, the environments' variables, and what openjd_env changed. */
  actionEnv(base: Record<string, string>): Record<string, string> {
    const env: Record<string, string> = { ...base };
    for (const [k, v] of this.env) env[k] = v;
    for (const k of this.unset) delete env[k];
    return env;
  }

  /** Writes embedded files into `.drover/files/<scope>/` and returns the references to them. */
  async writeEmbedded(files: readonly EmbeddedFile[], scope: string, values: Map<string, string>, prefix: 'Task.File' | 'Env.File'): Promise<void> {
    const folder = join(this.dir, '.drover', 'files', scope);
    await mkdir(folder, { recursive: true });
    // Paths first: a file's data may name another file of the same scope.
    for (const f of files) values.set(`${prefix}.${f.name}`, this.visible(join(folder, f.filename ?? f.name)));
    for (const f of files) {
      const path = join(folder, f.filename ?? f.name);
      await rm(path, { force: true });
      // Readable (and runnable) by the task's user: a root agent runs confined tasks as nobody.
      // The session folder itself is open to that user only.
      await writeFile(path, resolveFormatString(f.data, mapLookup(values)), { mode: f.runnable ? 0o755 : 0o644 });
      await chmod(path, f.runnable ? 0o755 : 0o644);
    }
  }

  /** Lays out the session's data: IN files, OUT directories, and the outputs of the steps this one depends on. */
  async prepare(blobs: BlobCache, client: ApiClient): Promise<void> {
    await mkdir(join(this.dir, '.drover'), { recursive: true });
    await writeFile(join(this.dir, '.drover', 'path-mapping.json'), '{}\n');
    for (const [name, data] of Object.entries(this.spec.dataParameters)) {
      const dir = paramDir(this.dir, name);
      await mkdir(dir, { recursive: true });
      if (data.flow === 'OUT') continue;
      for (const f of data.files) {
        await mkdir(dirname(join(dir, f.name)), { recursive: true });
        await blobs.copyTo(f.sha256, join(dir, f.name));
      }
    }
    if (this.spec.steps[this.step]!.dependsOn.length === 0) return;
    const { files } = await client.json<StepInputsAnswer>('GET', `/agent/jobs/${this.jobId}/inputs?step=${this.step}`, undefined, { retryForMs: 60_000 });
    for (const f of files) {
      // outputs/<Param>/<rel> → params/<Param>/<rel>
      const target = join(this.dir, 'params', f.path.slice('outputs/'.length));
      await mkdir(dirname(target), { recursive: true });
      await rm(target, { force: true });
      await blobs.copyTo(f.sha256, target);
    }
  }

  /** Enters the job's and the step's environments, in order; throws with the reason when one fails. */
  async enter(io: ActionIO, base: Record<string, string>, log: (line: string) => void): Promise<void> {
    const envs = [
      ...(this.spec.template.jobEnvironments ?? []).map((env, i) => ({ env, scope: `job-env-${i}` })),
      ...(this.spec.template.steps[this.step]!.stepEnvironments ?? []).map((env, i) => ({ env, scope: `step-env-${i}` })),
    ];
    for (const { env, scope } of envs) {
      const values = this.baseValues();
      await this.writeEmbedded(env.script?.embeddedFiles ?? [], scope, values, 'Env.File');
      for (const [k, v] of Object.entries(env.variables ?? {})) this.env.set(k, resolveFormatString(v, mapLookup(values)));
      this.entered.push({ env, scope });
      const onEnter = env.script?.actions.onEnter;
      if (!onEnter) continue;
      log(`entering environment "${env.name}"`);
      const lines = new LineSplitter((line) => {
        const m = parseStdoutMessage(line);
        if (m?.kind === 'env') {
          this.env.set(m.name, m.value);
          this.unset.delete(m.name);
        } else if (m?.kind === 'unset_env') {
          this.unset.add(m.name);
          this.env.delete(m.name);
        }
      });
      const lookup = mapLookup(values);
      const spec: ProcessSpec = { argv: [resolveFormatString(onEnter.command, lookup), ...(onEnter.args ?? []).map((a) => resolveFormatString(a, lookup))], cwd: this.dir, env: this.actionEnv(base) };
      const outcome = await runAction((s) => this.launch(s, log), spec, { ...io, stdout: (c) => (io.stdout(c), lines.push(c)) }, onEnter.timeout);
      lines.end();
      if (outcome.code !== 0 || outcome.error) {
        throw new Error(`environment "${env.name}" could not be entered: its onEnter ${outcome.error ?? `exited with code ${outcome.code}`}`);
      }
    }
  }

  /** Exits the entered environments in reverse order and removes the session's directory. */
  async close(log: (line: string) => void): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    const never = new AbortController().signal;
    for (const { env, scope } of this.entered.reverse()) {
      const onExit = env.script?.actions.onExit;
      if (!onExit) continue;
      try {
        const values = this.baseValues();
        await this.writeEmbedded(env.script?.embeddedFiles ?? [], scope, values, 'Env.File');
        const lookup = mapLookup(values);
        const spec: ProcessSpec = {
          argv: [resolveFormatString(onExit.command, lookup), ...(onExit.args ?? []).map((a) => resolveFormatString(a, lookup))],
          cwd: this.dir,
          env: this.actionEnv({ PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: this.visibleDir, LANG: 'C.UTF-8', TMPDIR: this.visibleDir, DROVER_JOB_ID: this.jobId }),
        };
        const say = (c: Buffer) => c.toString().split('\n').filter(Boolean).forEach((l) => log(`[${env.name} onExit] ${l}`));
        const outcome = await runAction((s) => this.launch(s, log), spec, { stdout: say, stderr: say, signal: never }, onExit.timeout ?? ON_EXIT_DEFAULT_TIMEOUT);
        log(`left environment "${env.name}" of job ${this.jobId}${outcome.code === 0 && !outcome.error ? '' : `: its onExit ${outcome.error ?? `exited with code ${outcome.code}`}`}`);
      } catch (err) {
        log(`environment "${env.name}" of job ${this.jobId}: onExit failed: ${(err as Error).message}`);
      }
    }
    await rm(this.dir, { recursive: true, force: true }).catch(() => undefined);
  }
}

function basename(path: string): string {
  const parts = path.split(/[\\/]/).filter(Boolean);
  return parts[parts.length - 1] ?? 'file';
}

/** Files under `dir` with their size and modification time, by path relative to it. */
export async function snapshot(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (d: string) => {
    let entries;
    try {
      entries = await readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) {
        const s = await stat(p);
        out.set(relative(dir, p), `${s.size}:${s.mtimeMs}:${s.ino}`);
      }
    }
  };
  await walk(dir);
  return out;
}

/** Links what changed under `from` since `before` into `to` (same file system: no copy). */
export async function linkChanged(from: string, before: ReadonlyMap<string, string>, to: string): Promise<number> {
  let n = 0;
  for (const [rel, sig] of await snapshot(from)) {
    if (before.get(rel) === sig) continue;
    const target = join(to, rel);
    await mkdir(dirname(target), { recursive: true });
    await link(join(from, rel), target).catch(async () => {
      const { copyFile } = await import('node:fs/promises');
      await copyFile(join(from, rel), target);
    });
    n++;
  }
  return n;
}

/** The agent's sessions: idle ones by (job, step), reused by the next task of that step. */
export class TemplateSessions {
  private readonly idle = new Map<string, TemplateSession[]>();
  private readonly all = new Set<TemplateSession>();
  private counter = 0;

  constructor(private readonly opts: SessionOptions) {}

  /** An idle session of the step, or a new one, prepared and entered (its output goes to `io`). */
  async acquire(
    jobId: string,
    step: number,
    spec: TemplateJobSpec,
    inContainer: boolean,
    launch: SessionLaunch,
    io: ActionIO,
    base: (dir: string) => Record<string, string>,
    log: (line: string) => void,
  ): Promise<{ session: TemplateSession; fresh: boolean }> {
    const key = `${jobId}/${step}`;
    const waiting = this.idle.get(key);
    const reused = waiting?.pop();
    if (waiting && waiting.length === 0) this.idle.delete(key);
    if (reused) {
      if (reused.idleTimer) clearTimeout(reused.idleTimer);
      reused.idleTimer = null;
      return { session: reused, fresh: false };
    }
    const dir = join(this.opts.root, `${jobId}-${step}-${++this.counter}`);
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true, mode: 0o755 });
    const session = new TemplateSession(key, jobId, step, dir, spec, inContainer ? '/local' : dir, launch);
    this.all.add(session);
    try {
      await session.prepare(this.opts.blobs, this.opts.client);
      await session.enter(io, base(session.visibleDir), log);
    } catch (err) {
      this.all.delete(session);
      await session.close(this.opts.log);
      throw err;
    }
    return { session, fresh: true };
  }

  /** The task is done with the session: it waits for the next task of its step. */
  release(session: TemplateSession): void {
    if (session.closed) return;
    const list = this.idle.get(session.key) ?? [];
    list.push(session);
    this.idle.set(session.key, list);
    session.idleTimer = setTimeout(() => void this.closeIdle(session), this.opts.idleSeconds * 1000);
    session.idleTimer.unref();
  }

  private async closeIdle(session: TemplateSession): Promise<void> {
    const list = this.idle.get(session.key);
    if (!list || !list.includes(session)) return;
    list.splice(list.indexOf(session), 1);
    if (list.length === 0) this.idle.delete(session.key);
    this.all.delete(session);
    await session.close(this.opts.log);
  }

  /** Jobs of idle sessions (the heartbeat asks which have ended). */
  idleJobs(): string[] {
    return [...new Set([...this.idle.values()].flat().map((s) => s.jobId))];
  }

  async jobsEnded(jobIds: readonly string[]): Promise<void> {
    const ended = new Set(jobIds);
    await Promise.all([...this.idle.values()].flat().filter((s) => ended.has(s.jobId)).map((s) => this.closeIdle(s)));
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.idle.values()].flat().map((s) => this.closeIdle(s)));
  }
}
