// How many agents an elastic fleet should start or stop, from the farm's queued and running work.
// Pure: the caller reads the coordinator's metrics and its own agents, and keeps `lastWorkAtMs`
// (the idle timer) between decisions by feeding back what the previous decision returned.

/** Tasks of one instance type, as /metrics counts them (`drover_tasks`). */
export interface WorkLoad {
  /** Cores one task of this type asks for. */
  cores: number;
  queued: number;
  running: number;
}

export interface ScalingPolicy {
  /** Agents kept even with no work. */
  min: number;
  /** Agents never exceeded, draining ones included (they still hold cores until their tasks end). */
  max: number;
  /** Agents started per decision at most, so a burst grows the fleet gradually. */
  step: number;
  /** Seconds without queued work before idle agents are stopped. */
  idleSeconds: number;
  /** Cores each fleet agent offers. */
  slots: number;
}

export interface ScalingInput {
  nowMs: number;
  /** Fleet agents taking work. */
  active: number;
  /** Fleet agents told to stop that are finishing their tasks. */
  draining: number;
  work: readonly WorkLoad[];
  /** When queued work was last seen (the previous decision's answer); null: never. */
  lastWorkAtMs: number | null;
  policy: ScalingPolicy;
}

export interface ScalingDecision {
  action: 'start' | 'stop' | 'hold';
  start: number;
  stop: number;
  /** Agents the work needs, within min and max. */
  target: number;
  /** Feed back into the next decision. */
  lastWorkAtMs: number | null;
  /** One line for the log; stable while nothing changes (no counters that tick every decision). */
  reason: string;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/**
 * Agents needed to run all queued and running tasks at once. Each type packs `floor(slots/cores)`
 * tasks per agent; fractions of agents of different types add up (a 1-core task fills the gap
 * next to a 2-core one), so the estimate is exact for one type and close for mixtures.
 */
export function agentsNeeded(work: readonly WorkLoad[], slots: number): number {
  let agents = 0;
  for (const w of work) {
    const perAgent = Math.floor(slots / w.cores);
    if (perAgent >= 1) agents += (w.queued + w.running) / perAgent;
  }
  // Rounding guard: 3 × (1/3) must be 1, not 1.0000000000000002.
  return Math.ceil(agents - 1e-9);
}

export function decideScaling(input: ScalingInput): ScalingDecision {
  const { nowMs, active, draining, policy } = input;
  const { min, max, step, idleSeconds, slots } = policy;
  // Tasks asking for more cores than a fleet agent offers never run on one: more agents would not
  // help, so they count neither as demand nor as work that keeps the fleet busy.
  const fits = input.work.filter((w) => w.cores <= slots);
  const tooBig = input.work.filter((w) => w.cores > slots).reduce((n, w) => n + w.queued, 0);
  const queued = fits.reduce((n, w) => n + w.queued, 0);
  const running = fits.reduce((n, w) => n + w.running, 0);
  const needed = agentsNeeded(fits, slots);
  const target = Math.max(min, Math.min(max, needed));
  const lastWorkAtMs = queued > 0 ? nowMs : input.lastWorkAtMs;
  const total = active + draining;

  const work = `${plural(queued, 'queued task')}, ${running} running need ${plural(needed, 'agent')} of ${plural(slots, 'slot')}`;
  const note = tooBig > 0 ? `; ${plural(tooBig, 'queued task')} ask for more than ${plural(slots, 'slot')} and are left to other agents` : '';
  const hold = (reason: string): ScalingDecision => ({ action: 'hold', start: 0, stop: 0, target, lastWorkAtMs, reason: reason + note });

  // Up: toward the target (draining agents still count, their tasks are in `running`), and at
  // least to min among active agents; never past max, at most `step` at once.
  const wanted = Math.max(target - total, min - active);
  const start = Math.max(0, Math.min(wanted, step, max - total));
  if (start > 0) {
    const capped = needed > max ? ` (capped at max ${max})` : needed < min ? ` (min ${min})` : '';
    return { action: 'start', start, stop: 0, target, lastWorkAtMs, reason: `${work}${capped}; ${total} running or draining: starting ${start}${note}` };
  }
  if (needed > total && total >= max) return hold(`${work}; at max ${max}${draining > 0 ? ` (${draining} draining)` : ''}`);

  // Down: only once no work has been queued for idleSeconds, never below min, and only agents
  // that must be idle: each running task occupies at most one agent, so at least
  // active - running of them run nothing.
  if (active <= min) return hold(queued > 0 ? `${work}; ${plural(active, 'agent')} enough` : `${work}; at min ${min}`);
  if (queued > 0) return hold(`${work}; ${plural(active, 'agent')} enough, work still queued`);
  if (lastWorkAtMs !== null && nowMs - lastWorkAtMs < idleSeconds * 1000) return hold(`no queued work; waiting ${idleSeconds}s of idle before stopping agents`);
  const surelyIdle = Math.max(0, active - running);
  const stop = Math.min(active - min, surelyIdle);
  if (stop === 0) return hold(`no queued work for ${idleSeconds}s; ${plural(running, 'running task')} may occupy every agent`);
  return { action: 'stop', start: 0, stop, target, lastWorkAtMs, reason: `no queued work for ${idleSeconds}s, ${running} running: stopping ${stop} idle of ${plural(active, 'agent')} (min ${min})${note}` };
}
