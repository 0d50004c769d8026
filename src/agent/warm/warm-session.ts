// One warm Blender: started once with a job's project and settings, it renders frame after frame
// on request (warm_driver.py), for one task after another. Its output goes to whichever task it is
// working for; its frames are written into the session's own out/ folder and handed over.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { relativePathProblem } from '../../core/inputs.js';
import type { RenderJobSpec } from '../../wire/render.js';
import { PROJECT_DIR } from '../../wire/render.js';
import { DEFAULT_FILE_PATTERN, RENDER_SETUP_PY } from '../../render/blender-command.js';
import type { FileRef } from '../../wire/common.js';
import type { BlobCache } from '../blob-cache.js';
import { confineWithBwrap } from '../isolation/bwrap.js';
import type { ProcessSpec } from '../isolation/process-spec.js';
import { signalProcessGroup } from '../../process/process-group.js';

export const WARM_DRIVER_PY = fileURLToPath(new URL('../../render/blender/warm_driver.py', import.meta.url));
const OUT_DIR = 'out';
const KILL_GRACE_MS = 5000;

/** The process side of a session: where it lives and how Blender is run. */
export interface SessionBase {
  /** Short id, shown in task logs and in Blender's command line (so it can be found in /proc). */
  id: string;
  /** The session's own directory (project copy, scripts, frames), out of any task directory. */
  dir: string;
  blobs: BlobCache;
  /** Confine Blender with bubblewrap to its session directory, as host tasks are. */
  sandboxed: boolean;
  blender?: string;
}

/** What a session renders: a spare has none until a task adopts it. */
export interface SessionProject {
  /** What the session can render: see sessionKey(). */
  key: string;
  job: RenderJobSpec;
  files: readonly FileRef[];
  /** Render threads (-t), from the task's cores. */
  threads: number;
  network: boolean;
}

/** Where a session's output goes while it works for a task. */
export interface OutputSink {
  stdout(chunk: Buffer): void;
  stderr(chunk: Buffer): void;
}

export interface FrameResult {
  frame: number;
  /** Absolute path of the saved frame, inside the session's out/ folder. */
  path: string;
  seconds: number;
  rssMb: number | null;
}

interface Reply {
  ready?: boolean;
  spare?: boolean;
  pid?: number;
  frame?: number;
  ok?: boolean;
  path?: string;
  seconds?: number;
  rssMb?: number | null;
  error?: string;
}

export class WarmSession {
  readonly id: string;
  /** What it can render (see sessionKey); "" while it is a spare. */
  key = '';
  readonly dir: string;
  /** Frames rendered by this session so far. */
  frames = 0;
  lastRssMb: number | null = null;
  startedMs = 0;
  /** Its task is on its last frame: a task of the same key may wait for it rather than start another. */
  finishing = false;
  /** The jobs it has rendered for: once all have ended, it is closed rather than left to idle out. */
  readonly jobs = new Set<string>();
  private child: ChildProcess | null = null;
  private sink: OutputSink | null = null;
  private readonly nonce = randomBytes(12).toString('hex');
  private partial = '';
  private waiter: { resolve(r: Reply): void; reject(e: Error): void } | null = null;
  private exit: string | null = null;
  private stderrTail = '';
  readonly exited: Promise<void>;
  private markExited!: () => void;

  constructor(private readonly base: SessionBase) {
    this.id = base.id;
    this.dir = base.dir;
    this.exited = new Promise((resolve) => (this.markExited = resolve));
  }

  /** The pid of what the agent spawned (bwrap when sandboxed, else Blender itself). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  get alive(): boolean {
    return this.child !== null && this.exit === null;
  }

  /** Sends the session's output to a task (or nowhere, between tasks). */
  attach(sink: OutputSink | null): void {
    this.sink = sink;
  }

  /**
   * Makes this the session for `project` and waits until the driver is ready: a started spare (see
   * startSpare) is handed the project to load; otherwise Blender starts with it.
   */
  async start(project: SessionProject, signal: AbortSignal): Promise<void> {
    const started = Date.now();
    const spare = this.child !== null;
    this.key = project.key;
    if (!spare) await this.layOutScripts();
    await this.layOutProject(project.files);
    if (signal.aborted) throw new Error('stopped before Blender started');
    if (spare) this.child!.stdin!.write(`${JSON.stringify({ open: openCommand(project.job, project.threads) })}\n`);
    else this.spawnBlender(warmBlenderArgs(project.job, project.threads, this.nonce, this.id), project.network);
    await this.ready(signal);
    this.startedMs = Date.now() - started;
  }

  /**
   * Starts Blender with no project and waits until it is up: a spare, which start() later hands a
   * project, sparing that task the wait for Blender itself to start (a second or more).
   * No network inside the sandbox: a spare serves only projects that need none.
   */
  async startSpare(): Promise<void> {
    await this.layOutScripts();
    this.spawnBlender(spareBlenderArgs(this.nonce, this.id), false);
    const reply = await this.nextReply();
    if (!reply.spare) throw new Error('the warm driver did not start as a spare');
  }

  /** The session's folders and the driver's scripts (.drover/). */
  private async layOutScripts(): Promise<void> {
    const { dir } = this.base;
    await mkdir(join(dir, OUT_DIR), { recursive: true });
    await mkdir(join(dir, '.drover'), { recursive: true });
    await mkdir(join(dir, 'tmp'), { recursive: true });
    await copyFile(WARM_DRIVER_PY, join(dir, '.drover', 'warm_driver.py'));
    await copyFile(RENDER_SETUP_PY, join(dir, '.drover', 'render_setup.py'));
  }

  private async layOutProject(files: readonly FileRef[]): Promise<void> {
    const { dir, blobs } = this.base;
    for (const f of files) {
      // The same rule as for task files: a name never leads out of the session directory.
      const problem = relativePathProblem(f.name);
      if (problem) throw new Error(`refusing a project file: ${problem}`);
      await mkdir(dirname(join(dir, f.name)), { recursive: true });
      await blobs.copyTo(f.sha256, join(dir, f.name));
    }
  }

  private spawnBlender(blenderArgs: string[], network: boolean): void {
    const { dir } = this.base;
    let spec: ProcessSpec = {
      argv: [this.base.blender ?? 'blender', ...blenderArgs],
      cwd: dir,
      env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: dir, LANG: 'C.UTF-8', TMPDIR: join(dir, 'tmp') },
    };
    if (this.base.sandboxed) spec = confineWithBwrap(spec, { taskDir: dir, network });
    const [command, ...args] = spec.argv;
    const child = spawn(command!, args, { cwd: spec.cwd, env: spec.env, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child = child;
    child.stdout!.on('data', (chunk: Buffer) => this.onStdout(chunk));
    child.stderr!.on('data', (chunk: Buffer) => {
      this.stderrTail = (this.stderrTail + chunk.toString()).slice(-2000);
      this.sink?.stderr(chunk);
    });
    // A dead Blender closes its stdin; writing to it then must not crash the agent.
    child.stdin!.on('error', () => undefined);
    child.on('error', (err) => this.onExit(`Blender could not start: ${err.message}`));
    child.on('close', (code, sig) => this.onExit(sig ? `Blender was killed by ${sig}` : `Blender exited with code ${code}`));
  }

  /** Waits for the driver's "ready" (the project loaded and set up); aborting kills Blender. */
  private async ready(signal: AbortSignal): Promise<void> {
    const onAbort = () => this.kill();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      const ready = await this.nextReply();
      if (!ready.ready) throw new Error('the warm driver answered before it was ready');
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  /** Renders one frame; rejects if Blender reports an error or dies (the session is then unusable). */
  async render(frame: number, signal: AbortSignal): Promise<FrameResult> {
    if (!this.alive) throw new Error(this.exit ?? 'the session is not running');
    // Stopping a task interrupts its frame: Blender cannot be told to cancel a render from
    // outside, so the session goes (it holds nothing another task could use mid-frame).
    const onAbort = () => this.kill();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      const pending = this.nextReply();
      this.child!.stdin!.write(`${JSON.stringify({ frame })}\n`);
      const r = await pending;
      if (r.frame !== frame) throw new Error(`the warm driver answered for frame ${r.frame} instead of ${frame}`);
      if (!r.ok || !r.path) throw new Error(`Blender could not render frame ${frame}: ${r.error ?? 'no file'}`);
      this.frames++;
      this.lastRssMb = r.rssMb ?? null;
      return { frame, path: join(this.dir, r.path.startsWith('/') ? posix.relative(this.dir, r.path) : r.path), seconds: r.seconds ?? 0, rssMb: r.rssMb ?? null };
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  /** Ends the session: Blender quits at the end of its input; killed if it lingers. */
  async close(): Promise<void> {
    if (!this.alive) return this.exited;
    this.child!.stdin!.end(`${JSON.stringify({ quit: true })}\n`);
    const timer = setTimeout(() => this.kill(), KILL_GRACE_MS);
    await this.exited;
    clearTimeout(timer);
  }

  /** Kills Blender (its whole process group: bwrap and what runs inside). */
  kill(): void {
    const pid = this.child?.pid;
    if (pid === undefined || this.exit !== null) return;
    signalProcessGroup(pid, 'SIGKILL');
  }

  private nextReply(): Promise<Reply> {
    if (this.exit !== null) return Promise.reject(new Error(this.exitMessage()));
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  private onStdout(chunk: Buffer): void {
    // Lines are forwarded as they complete; a reply line is the driver's, never the task's.
    const text = this.partial + chunk.toString();
    const end = text.lastIndexOf('\n');
    if (end < 0) {
      this.partial = text;
      return;
    }
    this.partial = text.slice(end + 1);
    const marker = `@drover-${this.nonce} `;
    let out = '';
    for (const line of text.slice(0, end).split('\n')) {
      if (!line.startsWith(marker)) {
        out += `${line}\n`;
        continue;
      }
      if (out) this.sink?.stdout(Buffer.from(out));
      out = '';
      let reply: Reply;
      try {
        reply = JSON.parse(line.slice(marker.length)) as Reply;
      } catch {
        continue;
      }
      const waiter = this.waiter;
      this.waiter = null;
      waiter?.resolve(reply);
    }
    if (out) this.sink?.stdout(Buffer.from(out));
  }

  private onExit(message: string): void {
    if (this.exit !== null) return;
    this.exit = message;
    if (this.partial) this.sink?.stdout(Buffer.from(this.partial));
    this.partial = '';
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.reject(new Error(this.exitMessage()));
    this.markExited();
  }

  private exitMessage(): string {
    const tail = this.stderrTail.trim().split('\n').pop();
    return `${this.exit ?? 'Blender ended'}${tail ? ` (${tail})` : ''}`;
  }
}

/**
 * Blender's arguments for a warm session: those of a cold task (blender-command.ts), in the same
 * order, with the driver in place of render_setup.py and no frames. -t comes before --python here:
 * the driver never returns to Blender's argument parsing until the session ends.
 */
export function warmBlenderArgs(job: RenderJobSpec, threads: number, nonce: string, sessionId: string): string[] {
  const r = job.render;
  const args = ['-b', posix.join(PROJECT_DIR, r.blend), '-noaudio', '--python-exit-code', '1'];
  if (r.scene) args.push('--scene', r.scene);
  args.push('-o', posix.join(OUT_DIR, DEFAULT_FILE_PATTERN));
  if (r.format) args.push('-F', r.format === 'TARGA' ? 'TGA' : r.format);
  args.push('-x', '1', '-t', String(threads), '--python', '.drover/warm_driver.py');
  args.push('--', JSON.stringify({ nonce, session: sessionId, ...renderSettings(job) }));
  return args;
}

/** The settings render_setup.apply() gets (see render_setup.py). */
function renderSettings(job: RenderJobSpec): Record<string, unknown> {
  const r = job.render;
  const settings: Record<string, unknown> = {};
  if (r.samples) settings.samples = r.samples;
  if (r.resolution) settings.resolution = [r.resolution.width, r.resolution.height];
  if (r.percentage) settings.percentage = r.percentage;
  if (r.scene) settings.scene = r.scene;
  return settings;
}

/** A spare's arguments: Blender and the driver, no file (the project comes with "open"). */
export function spareBlenderArgs(nonce: string, sessionId: string): string[] {
  return ['-b', '-noaudio', '--python-exit-code', '1', '--python', '.drover/warm_driver.py', '--', JSON.stringify({ nonce, session: sessionId, spare: true })];
}

/**
 * What the driver's open_project needs to do what warmBlenderArgs' arguments do: the same file,
 * scene, output pattern, format and threads, and the same settings for render_setup.
 */
export function openCommand(job: RenderJobSpec, threads: number): Record<string, unknown> {
  const r = job.render;
  return { blend: posix.join(PROJECT_DIR, r.blend), scene: r.scene ?? null, output: posix.join(OUT_DIR, DEFAULT_FILE_PATTERN), format: r.format ?? null, threads, settings: renderSettings(job) };
}
