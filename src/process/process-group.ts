// Signals to a whole process group: a child spawned `detached` leads its own group, so a task, a
// wrapped command (bwrap, a container engine's client) or Blender is stopped with everything it
// started, not just the process we spawned.

/** Sends `signal` to the group `pid` leads; a group already gone is not an error. */
export function signalProcessGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

/**
 * SIGTERM to the group now and SIGKILL once `graceMs` have passed, for a process that lingers.
 * Returns what cancels the SIGKILL (call it when the process has exited). The timer keeps no
 * process alive that would otherwise end.
 */
export function terminateProcessGroup(pid: number, graceMs: number): () => void {
  signalProcessGroup(pid, 'SIGTERM');
  const timer = setTimeout(() => signalProcessGroup(pid, 'SIGKILL'), graceMs);
  timer.unref();
  return () => clearTimeout(timer);
}
