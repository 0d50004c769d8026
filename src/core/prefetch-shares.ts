// How many tasks each agent asking at the same time may prefetch: hold beyond what it can start now,
// to start the moment a slot frees. Pure: services/leasing.ts counts the queue and the online agents
// and leases what this grants.
//
// Prefetch hides the round trip between an agent's tasks. It is served after every agent asking
// for work it can start now, and fills an agent's hold (what it runs and what waits) up to its
// slots, one task waiting, and its share of the queue (queued / online agents). As the queue drains
// every agent's hold shrinks to a task running and one waiting, so agents run out of work together:
// none idles for a round trip, and no task waits behind a busy agent's current one while another
// agent has nothing. (A cap on each ask instead, of its share less one, granted nothing once fewer
// than two tasks per agent were queued: every task of that last stretch cost its agent a round
// trip, 66–185 ms of idle per agent in the scale bench, 0–31 ms with this rule.)

/** What of an agent's request for work the shares depend on. */
export interface PrefetchAsk {
  /** Cores free now, and at most `maxTasks` tasks to start on them now. */
  freeCores: number;
  maxTasks: number;
  /** Tasks it would like to hold beyond those, at most. */
  prefetch?: number;
  /** Tasks it holds already (running or waiting to start). */
  holding?: number;
  agent: { slots: number };
}

/** What one prefetching ask is granted: `tasks` more, beside what it starts now. */
export interface PrefetchShare {
  /** The ask's index in the asks given. */
  index: number;
  tasks: number;
}

/** Whether an ask prefetches at all (an agent of no slots never does). */
export function prefetches(a: PrefetchAsk): boolean {
  return (a.prefetch ?? 0) > 0 && a.agent.slots >= 1;
}

/** Tasks an ask may start now: set aside for it before any prefetch is granted. */
export function startableNow(a: PrefetchAsk): number {
  return a.freeCores >= 1 ? Math.min(a.maxTasks, a.freeCores) : 0;
}

/** An agent never holds more than its slots and its prefetch (at most 100); a larger claim counts as that. */
function holdingOf(a: PrefetchAsk): number {
  return Math.min(a.holding ?? 0, a.agent.slots + 100);
}

/**
 * How far the queued tasks need counting for `prefetchShares` to come out as with the whole count:
 * what the asks for now take, plus every prefetch asked for, plus the deepest hold times the online
 * agents (an ask is capped only while the share of the queue is below what it would hold).
 */
export function queuedCountCap(asks: readonly PrefetchAsk[], onlineAgents: number): number {
  const online = Math.max(1, onlineAgents);
  const prefetching = asks.filter(prefetches);
  const wanted = prefetching.reduce((n, a) => n + a.prefetch!, 0);
  const takenNow = asks.reduce((n, a) => n + startableNow(a), 0);
  const deepest = Math.max(0, ...prefetching.map((a) => a.prefetch! + holdingOf(a) + startableNow(a) - a.agent.slots));
  return takenNow + wanted + online * deepest;
}

/**
 * The prefetch each ask gets, in the order they asked, from `queuedCounted` queued tasks (counted up
 * to `queuedCountCap`, before anything is leased): what the asks for now may take is set aside
 * first, and each ask's hold is filled up to its slots, one waiting, and its share of the queue.
 * Asks granted nothing are left out.
 */
export function prefetchShares(asks: readonly PrefetchAsk[], onlineAgents: number, queuedCounted: number): PrefetchShare[] {
  const online = Math.max(1, onlineAgents);
  const queued = queuedCounted - asks.reduce((n, a) => n + startableNow(a), 0);
  const shareOfQueue = Math.floor(queued / online);
  let left = queued;
  const shares: PrefetchShare[] = [];
  asks.forEach((a, index) => {
    if (!prefetches(a)) return;
    const holdCap = a.agent.slots + 1 + shareOfQueue;
    const tasks = Math.min(a.prefetch!, holdCap - holdingOf(a) - startableNow(a), left);
    if (tasks <= 0) return;
    left -= tasks;
    shares.push({ index, tasks });
  });
  return shares;
}
