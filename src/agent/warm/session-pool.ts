// The agent's warm Blender sessions, one per (project, scene, settings): a task takes an idle
// session with its key or starts one; afterwards the session waits for the next task of the same
// kind until it has been idle too long. Sessions are retired after an error, a crash, too many
// frames or too much memory, and the next task simply starts a fresh one.
import { createHash, randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { FileRef } from '../../wire/common.js';
import type { RenderJobSpec } from '../../wire/render.js';
import type { BlobCache } from '../blob-cache.js';
import { type OutputSink, WarmSession } from './warm-session.js';
import type { SpareMode } from '../config.js';

export interface PoolOptions {
  /** Folder for the sessions' directories (emptied when the pool starts). */
  root: string;
  blobs: BlobCache;
  /** Confine sessions with bubblewrap (the agent confines its host tasks). */
  sandboxed: boolean;
  /** Close a session idle this long. */
  idleSeconds: number;
  /** Start afresh after this many frames (bounds leaks and slow drift in a long-lived Blender). */
  maxFrames: number;
  /** Retire a session whose Blender uses more memory than this after a frame. */
  maxRssMb: number;
  /** Most sessions at once; idle ones are closed (least recently used first) to make room. */
  maxSessions: number;
  /**
   * Keep a spare Blender started (no project yet), started while the agent is idle, so the next
   * job's first task skips Blender's own start-up: `after-render` once the agent has rendered (an
   * agent that never renders never starts one), `at-start` from the moment it joins (a render
   * node's first job on a farm just started), `off` never.
   */
  spare: SpareMode;
  log(line: string): void;
  blender?: string;
}

/** How long the agent is idle before its spare Blender starts (so it never slows a running job). */
const SPARE_DELAY_MS = 300;

/** What a render task needs its session to be: the same key means the same Blender state. */
export interface SessionNeeds {
  jobId: string;
  job: RenderJobSpec;
  files: readonly FileRef[];
  threads: number;
}

/**
 * The session key: the project's files by content, and every setting that shapes the Blender
 * process (scene, overrides, format, threads, network). Two jobs with different projects or
 * settings never share a session; a resubmitted identical project may reuse one.
 */
export function sessionKey({ job, files, threads }: SessionNeeds): string {
  const r = job.render;
  const material = {
    files: [...files].map((f) => [f.name, f.sha256]).sort((a, b) => (a[0]! < b[0]! ? -1 : 1)),
    blend: r.blend,
    scene: r.scene,
    format: r.format,
    samples: r.samples,
    resolution: r.resolution,
    percentage: r.percentage,
    threads,
    network: job.network,
  };
  return createHash('sha256').update(JSON.stringify(material)).digest('hex');
}

export class SessionPool {
  private readonly idle: WarmSession[] = [];
  private readonly busy = new Set<WarmSession>();
  private readonly timers = new Map<WarmSession, NodeJS.Timeout>();
  private readonly closing = new Set<Promise<void>>();
  /** Tasks waiting to take over a session that is finishing its last frame. */
  private readonly waiting: { session: WarmSession; take(s: WarmSession | null): void }[] = [];
  private closed = false;
  /** A started (or starting) Blender with no project yet; see PoolOptions.spare. */
  private spare: { session: WarmSession; started: Promise<boolean> } | null = null;
  private spareTimer: NodeJS.Timeout | null = null;
  /** Whether the agent keeps a spare: once it has rendered (`after-render`), or from the start (`at-start`). */
  private wantsSpare = false;

  constructor(private readonly opts: PoolOptions) {}

  /** Removes session directories an earlier run of the agent left behind. */
  async init(): Promise<void> {
    await rm(this.opts.root, { recursive: true, force: true });
    if (this.opts.spare === 'at-start') {
      this.wantsSpare = true;
      this.scheduleSpare();
    }
  }

  get size(): number {
    return this.idle.length + this.busy.size;
  }

  /**
   * A session for `needs`, working for the task whose output is `sink`: an idle one with the same
   * key, or a new one (started here; aborting `signal` kills it).
   */
  async acquire(needs: SessionNeeds, sink: OutputSink, signal: AbortSignal): Promise<{ session: WarmSession; fresh: boolean; fromSpare: boolean }> {
    if (this.closed) throw new Error('the agent is stopping');
    const key = sessionKey(needs);
    const found = this.idle.findIndex((s) => s.key === key && s.alive);
    if (found >= 0) {
      const [session] = this.idle.splice(found, 1);
      clearTimeout(this.timers.get(session!));
      this.timers.delete(session!);
      this.busy.add(session!);
      session!.jobs.add(needs.jobId);
      session!.attach(sink);
      return { session: session!, fresh: false, fromSpare: false };
    }
    // The same kind of session finishing its task's last frame: wait and take it over, rather than
    // start a second Blender beside it (the agent leased this task early, for that hand-over).
    const finishing = [...this.busy].find((s) => s.key === key && s.finishing && !this.waiting.some((w) => w.session === s));
    if (finishing) {
      const handed = await new Promise<WarmSession | null>((resolve) => {
        const onAbort = () => {
          this.waiting.splice(this.waiting.indexOf(waiter), 1);
          resolve(null);
        };
        const waiter = {
          session: finishing,
          take: (s: WarmSession | null) => {
            signal.removeEventListener('abort', onAbort);
            resolve(s);
          },
        };
        this.waiting.push(waiter);
        signal.addEventListener('abort', onAbort, { once: true });
      });
      if (signal.aborted) throw new Error('the task was stopped');
      if (handed) {
        handed.jobs.add(needs.jobId);
        handed.attach(sink);
        return { session: handed, fresh: false, fromSpare: false };
      }
      // It was retired instead (error, crash, limits): start a fresh one.
      if (this.closed) throw new Error('the agent is stopping');
    }
    // Make room: idle sessions of other projects go first, the least recently used first.
    while (this.size >= this.opts.maxSessions && this.idle.length > 0) void this.retire(this.idle[0]!, 'making room for another project');
    this.wantsSpare = true;
    const project = { key, job: needs.job, files: needs.files, threads: needs.threads, network: needs.job.network };
    // A spare has no network in the sandbox: it serves projects that need none.
    const spare = !(project.network && this.opts.sandboxed) ? await this.takeSpare() : null;
    const session = spare ?? this.newSession();
    session.jobs.add(needs.jobId);
    this.busy.add(session);
    // A session that dies while idle is dropped at once; a busy one is dealt with by release().
    void session.exited.then(() => {
      if (this.idle.includes(session)) void this.retire(session, 'Blender ended');
    });
    session.attach(sink);
    try {
      await session.start(project, signal);
    } catch (err) {
      this.release(session, false);
      throw err;
    }
    this.opts.log(`warm session ${session.id} started${spare ? ' from the spare Blender' : ''} (pid ${session.pid}, ${(session.startedMs / 1000).toFixed(1)} s, key ${key.slice(0, 12)})`);
    return { session, fresh: true, fromSpare: spare !== null };
  }

  private newSession(): WarmSession {
    const id = randomBytes(4).toString('hex');
    return new WarmSession({ id, dir: join(this.opts.root, id), blobs: this.opts.blobs, sandboxed: this.opts.sandboxed, ...(this.opts.blender ? { blender: this.opts.blender } : {}) });
  }

  /** The spare Blender, once it is up (waiting for one still starting beats starting another). */
  private async takeSpare(): Promise<WarmSession | null> {
    if (this.spareTimer) clearTimeout(this.spareTimer);
    this.spareTimer = null;
    const spare = this.spare;
    this.spare = null;
    if (!spare) return null;
    if (await spare.started) return spare.session;
    return null;
  }

  /** Starts a spare Blender after a moment of idleness, if the agent renders and has none. */
  private scheduleSpare(): void {
    if (this.opts.spare === 'off' || !this.wantsSpare || this.closed || this.spare || this.spareTimer || this.busy.size > 0) return;
    this.spareTimer = setTimeout(() => {
      this.spareTimer = null;
      if (this.closed || this.spare || this.busy.size > 0) return;
      const session = this.newSession();
      const started = session.startSpare().then(
        () => true,
        (err: Error) => {
          this.opts.log(`spare Blender could not start: ${err.message}`);
          return false;
        },
      );
      const spare = { session, started };
      this.spare = spare;
      void started.then((ok) => {
        if (ok) this.opts.log(`spare Blender ${session.id} ready (pid ${session.pid})`);
        else if (this.spare === spare) this.spare = null;
        if (!ok) void this.retire(session, 'it could not start');
      });
      // A spare that dies while waiting is forgotten (the next idle moment starts another).
      void session.exited.then(() => {
        if (this.spare === spare) this.spare = null;
      });
    }, SPARE_DELAY_MS);
    this.spareTimer.unref();
  }

  /** Gives a session back after a task: kept for the next one if it is healthy and within limits. */
  release(session: WarmSession, healthy: boolean): void {
    session.attach(null);
    session.finishing = false;
    this.busy.delete(session);
    const w = this.waiting.findIndex((x) => x.session === session);
    const waiter = w >= 0 ? this.waiting.splice(w, 1)[0]! : null;
    const reason = !healthy
      ? 'its task failed'
      : !session.alive
        ? 'Blender ended'
        : this.closed
          ? 'the agent is stopping'
          : session.frames >= this.opts.maxFrames
            ? `it rendered ${session.frames} frames`
            : session.lastRssMb !== null && session.lastRssMb > this.opts.maxRssMb
              ? `Blender uses ${Math.round(session.lastRssMb)} MB (limit ${this.opts.maxRssMb} MB)`
              : null;
    if (reason) {
      void this.retire(session, reason);
      waiter?.take(null);
      return this.scheduleSpare();
    }
    if (waiter) {
      // Straight to the next task: Blender is idle only for this hand-over.
      this.busy.add(session);
      return waiter.take(session);
    }
    this.idle.push(session);
    const timer = setTimeout(() => this.retire(session, `idle for ${this.opts.idleSeconds} s`), this.opts.idleSeconds * 1000);
    timer.unref();
    this.timers.set(session, timer);
    this.scheduleSpare();
  }

  /** The jobs idle sessions have rendered for: the agent asks the coordinator which have ended. */
  idleJobs(): string[] {
    return [...new Set(this.idle.flatMap((s) => [...s.jobs]))];
  }

  /**
   * Closes the idle sessions all of whose jobs have ended: their Blender holds memory (a studio
   * scene: gigabytes) that no further task is likely to need. A busy session is left alone; it is
   * asked about again once idle.
   */
  jobsEnded(ended: readonly string[]): void {
    const gone = new Set(ended);
    for (const s of [...this.idle]) {
      if ([...s.jobs].every((j) => gone.has(j))) void this.retire(s, s.jobs.size === 1 ? 'its job ended' : 'its jobs ended');
    }
  }

  /** Closes every session (the agent is stopping); busy ones are killed. */
  async closeAll(): Promise<void> {
    this.closed = true;
    if (this.spareTimer) clearTimeout(this.spareTimer);
    const spare = this.spare;
    this.spare = null;
    if (spare) this.closing.add(spare.started.then(() => this.retire(spare.session, 'the agent is stopping')));
    for (const w of this.waiting.splice(0)) w.take(null);
    for (const s of [...this.busy]) s.kill();
    for (const s of [...this.idle]) void this.retire(s, 'the agent is stopping');
    for (const s of [...this.busy]) void this.retire(s, 'the agent is stopping');
    await Promise.all([...this.closing]);
  }

  /** Closes a session (or a spare) and removes its directory; resolves once both are done. */
  private retire(session: WarmSession, reason: string): Promise<void> {
    const i = this.idle.indexOf(session);
    if (i >= 0) this.idle.splice(i, 1);
    this.busy.delete(session);
    clearTimeout(this.timers.get(session));
    this.timers.delete(session);
    this.opts.log(`warm session ${session.id} closed: ${reason} (${session.frames} frame(s))`);
    const done = session
      .close()
      .then(() => rm(session.dir, { recursive: true, force: true }))
      .catch((err: Error) => this.opts.log(`warm session ${session.id} could not be removed: ${err.message}`))
      .finally(() => this.closing.delete(done));
    this.closing.add(done);
    return done;
  }
}
