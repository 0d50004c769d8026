// What an agent says to the coordinator about work, and when: the one place that builds the bodies
// of POST /agent/lease and POST /agent/complete and decides what to ask for. The real agent
// (agent.ts) and the simulated agents of the benchmarks (bench/lib.ts) both build their requests
// here, so the benchmarks measure the protocol deployed agents speak (test/e2e/protocol.test.ts
// records both for one scenario and compares them). Pure: no I/O.
import type { CompleteBatchBody, CompletionResult } from '../wire/agents.js';

/** How long an idle agent's lease request waits for work to appear (a long-poll). */
export const LEASE_WAIT_SECONDS = 20;

/** What an agent asks for when it leases: the body of POST /agent/lease, less `waitSeconds`. */
export interface LeaseRequest {
  /** Cores free to start tasks on now (0: only tasks to hold). */
  freeCores: number;
  /** Tasks to hold besides those it can start now. */
  prefetch?: number;
  /** Tasks it holds already, running or waiting, not counting those it reports in the same request. */
  holding?: number;
}

/** Where an agent stands when it decides whether to ask for work. */
export interface AgentWorkState {
  slots: number;
  /** Cores its running tasks take (a task only reporting its results takes none). */
  usedCores: number;
  /** Leased tasks waiting to start. */
  held: number;
  /** Tasks it still holds a lease for, running or waiting, besides those it is about to report. */
  holding: number;
  /** Tasks it may hold besides those running (its --prefetch). */
  prefetch: number;
  /** Whether it asked to hold more since anything last changed (refused, it waits for a change). */
  prefetchAsked: boolean;
}

/**
 * What to ask for, or null to ask for nothing until something changes. Work to start now only when
 * no held task waits for cores; otherwise only more to hold, once per change.
 */
export function nextLeaseRequest(s: AgentWorkState): LeaseRequest | null {
  const free = s.slots - s.usedCores;
  const room = s.prefetch - s.held;
  const now = free >= 1 && s.held === 0;
  if (!now && (room < 1 || s.prefetchAsked)) return null;
  return { freeCores: now ? free : 0, ...(room > 0 ? { prefetch: room, holding: s.holding } : {}) };
}

/** A finished attempt's report: one item of POST /agent/complete. */
export type Completion = CompleteBatchBody['completions'][number];

/** The coordinator's word on one completion. */
export type { CompletionResult };

export interface ProtocolRequest {
  path: '/agent/lease' | '/agent/complete';
  body: Record<string, unknown>;
}

/**
 * The next request about work: every completion not reported yet, with the lease request in the same
 * request; a lease alone when there is nothing to report (a long-poll when it may start work now);
 * null when there is neither.
 */
export function workRequest(completions: readonly Completion[], lease: LeaseRequest | null): ProtocolRequest | null {
  if (completions.length > 0) return { path: '/agent/complete', body: { completions: [...completions], ...(lease ? { lease } : {}) } };
  if (lease) return { path: '/agent/lease', body: { ...lease, waitSeconds: lease.freeCores > 0 ? LEASE_WAIT_SECONDS : 0 } };
  return null;
}
