// An agent: joins the farm (join.ts), leases tasks that fit its free cores and runs them side by
// side (work-loop.ts, agent-tasks.ts), keeps their leases alive with heartbeats (heartbeat.ts), and
// stops them when told. SIGTERM drains (finish running tasks, take no new ones); SIGINT stops now
// and gives running tasks back. This module wires those parts and the programs of each lease kind.
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { LeasedTask } from '../wire/agents.js';
import type { LimitEnforcement } from './isolation/resource-limits.js';
import { BlobCache } from './blob-cache.js';
import { ApiClient } from '../client/api-client.js';
import { AgentTasks } from './agent-tasks.js';
import type { AgentConfig } from './config.js';
import { Heartbeat } from './heartbeat.js';
import { joinFarm } from './join.js';
import { renderProgram } from './render-program.js';
import { scriptProgram, type ProgramFactory } from './task-program.js';
import { previewProgram } from './preview-program.js';
import type { Launcher, RunnerDeps } from './task-runner.js';
import { SessionPool } from './warm/session-pool.js';
import { warmRenderProgram } from './warm/warm-render-program.js';
import { templateProgram } from './template/template-program.js';
import { TemplateSessions } from './template/template-sessions.js';
import { WorkLoop } from './work-loop.js';

export { AgentRefusedError } from './join.js';

/** What the agent runs tasks with, made from its config by the launcher (launcher.ts). */
export interface AgentRuntime {
  launcher?: Launcher;
  /** Whether host tasks are confined (bubblewrap found and working), reported at join. */
  sandboxed?: boolean;
  /** What the launcher holds host tasks to (see isolation/resource-limits.ts), reported at join. */
  limits?: LimitEnforcement;
  programs?: Partial<Record<LeasedTask['kind'], ProgramFactory>>;
  log?: (line: string) => void;
}

export class Agent {
  private readonly client: ApiClient;
  private readonly tasks: AgentTasks;
  private readonly loop: WorkLoop;
  private readonly heartbeat: Heartbeat;
  private readonly stopping = new AbortController();
  /**
   * Aborted once the agent has nothing left to say: the heartbeat outlives a stop so the leases of
   * tasks being killed and given back stay alive until they are (a short lease would otherwise run
   * out while a loaded machine tears them down, and the attempt would count as lost).
   */
  private readonly finished = new AbortController();
  private draining = false;
  private pool: SessionPool | null = null;
  private sessions: TemplateSessions | null = null;
  private readonly log: (line: string) => void;

  constructor(
    private readonly config: AgentConfig,
    private readonly runtime: AgentRuntime = {},
  ) {
    this.client = new ApiClient(config.servers);
    this.log = runtime.log ?? ((line) => console.log(`[agent ${config.name}] ${line}`));
    this.tasks = new AgentTasks(config.slots, config.gpus, this.log);
    const common = { client: this.client, tasks: this.tasks, signal: this.stopping.signal, draining: () => this.draining, rejoin: () => this.join(), log: this.log };
    this.heartbeat = new Heartbeat({
      ...common,
      signal: this.finished.signal,
      idleJobs: () => [...(this.pool?.idleJobs() ?? []), ...(this.sessions?.idleJobs() ?? [])],
      jobsEnded: (jobs) => {
        this.pool?.jobsEnded(jobs);
        void this.sessions?.jobsEnded(jobs);
      },
    });
    this.loop = new WorkLoop({ ...common, prefetch: config.prefetch, onRunEnded: (key) => this.heartbeat.forget(key) });
  }

  get name(): string {
    return this.config.name;
  }

  async run(): Promise<void> {
    const { config } = this;
    await mkdir(config.workDir, { recursive: true, mode: 0o700 });
    await this.join();
    const blobs = new BlobCache(join(config.workDir, 'blobs'), this.client);
    const warm = (this.pool = this.warmPool(blobs));
    await warm?.init();
    const sessions = (this.sessions = new TemplateSessions({
      root: join(config.workDir, 'sessions'),
      blobs,
      client: this.client,
      idleSeconds: config.sessionIdleSeconds,
      log: this.log,
    }));
    await rm(join(config.workDir, 'sessions'), { recursive: true, force: true });
    const runner: RunnerDeps = {
      client: this.client,
      blobs,
      workDir: config.workDir,
      logLimitBytes: config.logLimitBytes,
      outputFileLimitBytes: config.outputFileLimitBytes,
      launcher: this.runtime.launcher ?? (async (spec) => ({ spec })),
      programs: { script: scriptProgram, render: warm ? warmRenderProgram(warm) : renderProgram, template: templateProgram(sessions), preview: previewProgram, ...this.runtime.programs },
      keepTaskDirs: config.keepTaskDirs,
      // A warm render task frees its cores once its frames are rendered, while it still uploads.
      onCoresFreed: () => {
        this.loop.changed();
        this.heartbeat.sayUploadingSoon();
      },
      onUploading: () => this.heartbeat.sayUploadingSoon(),
      deliver: (completion, delivery) => this.loop.deliver(completion, delivery),
      stopSignal: this.stopping.signal,
      log: this.log,
    };
    const heartbeats = this.heartbeat.loop();
    await this.loop.run(runner);
    await Promise.all([...this.tasks.running.values()].map((r) => r.done));
    await warm?.closeAll();
    await sessions.closeAll();
    this.stopping.abort();
    this.finished.abort();
    await heartbeats;
  }

  /** Finish running tasks, take no new ones. */
  drain(): void {
    this.draining = true;
    this.log(`draining: ${this.tasks.running.size} task(s) to finish`);
    this.loop.changed();
    void this.heartbeat.once();
  }

  /** Stop now: kill running tasks and give them back to the coordinator. */
  stop(): void {
    this.draining = true;
    for (const run of this.tasks.running.values()) run.stop('shutdown');
    this.stopping.abort();
    this.loop.changed();
  }

  private async join(): Promise<void> {
    const answer = await joinFarm({
      client: this.client,
      config: this.config,
      sandboxed: this.runtime.sandboxed ?? false,
      ...(this.runtime.limits ? { limits: this.runtime.limits } : {}),
      gpus: this.tasks.gpus,
      signal: this.stopping.signal,
      log: this.log,
    });
    this.heartbeat.intervalSeconds = answer.heartbeatSeconds;
  }

  /** The warm session pool for render jobs, or null when warm sessions are off (DROVER_WARM=0). */
  private warmPool(blobs: BlobCache): SessionPool | null {
    const { warm } = this.config;
    if (warm === false) return null;
    return new SessionPool({ root: join(this.config.workDir, 'sessions'), blobs, sandboxed: this.runtime.sandboxed ?? false, ...warm, log: this.log });
  }
}
