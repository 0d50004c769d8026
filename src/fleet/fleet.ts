// The fleet's control loop: every interval, read the farm's queued and running work from
// /metrics, decide (src/core/fleet-scaling.ts) and start or drain agents through a provider.
//
// Which agent to stop: the fleet cannot see which of its agents are busy (that needs a user token
// for GET /workers; the fleet holds only the join token), so it drains the most recently started
// ones. That is safe: a draining agent (SIGTERM) finishes every task it holds and leases no new
// one, and the coordinator keeps those tasks leased to it, so no work is lost or run twice. The
// worst case is that a busy agent drains while an idle one stays until the next decision; and the
// decision stops no more agents than there must be idle ones (active minus running tasks).
import { sleep } from '../client/api-client.js';
import { decideScaling, type ScalingPolicy } from '../core/fleet-scaling.js';
import type { InstanceTypeCores } from '../core/instance-types.js';
import { readFarmWork } from './farm-metrics.js';
import type { AgentHandle, AgentProvider } from './providers/provider.js';

export interface FleetOptions {
  servers: readonly string[];
  provider: AgentProvider;
  policy: ScalingPolicy;
  intervalMs: number;
  /** The coordinator's instance-type sizes, to turn task counts into cores. */
  instanceCores: InstanceTypeCores;
  /** Agents are called `<prefix>-1`, `<prefix>-2`, …; a free number is reused, with its work dir. */
  namePrefix: string;
  log?: (line: string) => void;
}

interface Member {
  handle: AgentHandle;
  startedAtMs: number;
  draining: boolean;
}

/** An agent that exits on its own sooner than this after starting counts as a failed start. */
const EARLY_EXIT_MS = 30_000;
const MAX_START_BACKOFF_MS = 60_000;

export class Fleet {
  private readonly members = new Map<string, Member>();
  private readonly stopping = new AbortController();
  private shutdownRequests = 0;
  private lastWorkAtMs: number | null = null;
  private lastLogged = '';
  private scrapeError: string | null = null;
  private startFailures = 0;
  private startHeldUntilMs = 0;
  private readonly log: (line: string) => void;

  constructor(private readonly opts: FleetOptions) {
    this.log = opts.log ?? ((line) => console.log(`[fleet] ${line}`));
  }

  /** Runs until stop(), then drains every agent and waits for them to exit. */
  async run(): Promise<void> {
    const p = this.opts.policy;
    this.log(`${this.opts.provider.kind} agents of ${p.slots} slot(s), ${p.min}..${p.max}, step ${p.step}, idle ${p.idleSeconds}s, every ${this.opts.intervalMs / 1000}s`);
    while (!this.stopping.signal.aborted) {
      await this.tick();
      await sleep(this.opts.intervalMs, this.stopping.signal);
    }
    const agents = [...this.members.values()];
    this.log(`stopping: draining ${agents.length} agent(s); they finish their tasks first (signal again to stop them now, tasks go back to the queue)`);
    for (const m of agents) this.drain(m);
    await Promise.all(agents.map((m) => m.handle.exited));
    this.log('all agents stopped');
  }

  /** First call: leave the loop and drain every agent. Second: stop them now. */
  stop(): void {
    this.shutdownRequests++;
    this.stopping.abort();
    if (this.shutdownRequests > 1) {
      this.log('stopping agents now: their running tasks go back to the queue');
      for (const m of this.members.values()) m.handle.stopNow();
    }
  }

  private async tick(): Promise<void> {
    let farm;
    try {
      farm = await readFarmWork(this.opts.servers, this.opts.instanceCores);
    } catch (err) {
      // Without a reading, doing nothing is the only safe choice: no start, no stop.
      const message = (err as Error).message;
      if (this.scrapeError !== message) this.log(`cannot read ${this.opts.servers.join(', ')}/metrics (${message}); holding`);
      this.scrapeError = message;
      return;
    }
    if (this.scrapeError !== null) this.log('reading /metrics again');
    this.scrapeError = null;
    if (this.stopping.signal.aborted) return;

    const members = [...this.members.values()];
    const active = members.filter((m) => !m.draining);
    const decision = decideScaling({
      nowMs: Date.now(),
      active: active.length,
      draining: members.length - active.length,
      work: farm.work,
      lastWorkAtMs: this.lastWorkAtMs,
      policy: this.opts.policy,
    });
    this.lastWorkAtMs = decision.lastWorkAtMs;
    // Each decision with its reason, but a steady hold only once; starts held back after a failed
    // start are a hold too (else every interval would log a start that does not happen).
    const held = decision.start > 0 && Date.now() < this.startHeldUntilMs;
    const line = held
      ? `hold: ${decision.start} more agent(s) wanted, but starts are held back after a failed start`
      : `${decision.action}${decision.action === 'hold' ? '' : ` ${decision.start || decision.stop}`}: ${decision.reason}`;
    if (line !== this.lastLogged || !line.startsWith('hold')) this.log(line);
    this.lastLogged = line;

    for (let i = 0; i < decision.start && !this.stopping.signal.aborted; i++) {
      if (!(await this.startOne())) break;
    }
    // Newest first: see the comment at the top for why any agent may be drained.
    const newest = active.sort((a, b) => b.startedAtMs - a.startedAtMs).slice(0, decision.stop);
    for (const m of newest) this.drain(m);
  }

  private async startOne(): Promise<boolean> {
    if (Date.now() < this.startHeldUntilMs) return false;
    const name = this.freeName();
    try {
      const handle = await this.opts.provider.start(name);
      const member: Member = { handle, startedAtMs: Date.now(), draining: false };
      this.members.set(name, member);
      this.log(`started agent ${name} (${handle.describe})`);
      void handle.exited.then((how) => this.onExit(member, how));
      return true;
    } catch (err) {
      this.failedStart(`could not start agent ${name}: ${(err as Error).message}`);
      return false;
    }
  }

  private onExit(member: Member, how: string): void {
    const { name, describe } = member.handle;
    this.members.delete(name);
    this.log(`agent ${name} (${describe}) exited: ${how}`);
    if (member.draining) return;
    // Not asked to go: a crash, or an agent that cannot join (a wrong token, an image without
    // drover). Its place is taken by the next decision, but after a backoff, not in a tight loop.
    if (Date.now() - member.startedAtMs < EARLY_EXIT_MS) this.failedStart(`agent ${name} exited ${Math.round((Date.now() - member.startedAtMs) / 1000)}s after it started`);
    else this.startFailures = 0;
  }

  private failedStart(what: string): void {
    this.startFailures++;
    const delay = Math.min(MAX_START_BACKOFF_MS, 1000 * 2 ** (this.startFailures - 1));
    this.startHeldUntilMs = Date.now() + delay;
    this.log(`${what}; no new agent for ${Math.round(delay / 1000)}s`);
  }

  private drain(member: Member): void {
    if (member.draining) return;
    member.draining = true;
    this.log(`draining agent ${member.handle.name} (${member.handle.describe})`);
    member.handle.drain();
  }

  /** The lowest free number: names (and local work dirs, with their caches) are reused. */
  private freeName(): string {
    for (let n = 1; ; n++) {
      const name = `${this.opts.namePrefix}-${n}`;
      if (!this.members.has(name)) return name;
    }
  }
}
