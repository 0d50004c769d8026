// How long running tasks get to be heard from after the coordinator (every replica) was down.

/**
 * Agents cannot renew leases while no coordinator answers, and after a long outage they come back
 * slowly (their retries have backed off, their networks may be recovering too). So the grace grows
 * with the outage: one lease period plus the downtime itself, up to `maxSeconds` of extra time (past
 * it a task whose agent died during the outage would wait too long to be requeued).
 */
export function restartGraceSeconds(leaseSeconds: number, downtimeSeconds: number, maxSeconds: number): number {
  const downtime = Number.isFinite(downtimeSeconds) && downtimeSeconds > 0 ? downtimeSeconds : 0;
  return leaseSeconds + Math.min(downtime, maxSeconds);
}
