// What the fleet needs from a way of running agents: start one under a name, tell it to drain,
// stop it at once, and learn when it has gone.

/** How to reach the farm, the same for every agent the fleet starts. */
export interface AgentSpec {
  /** Coordinator URLs, tried in turn by the agent. */
  servers: readonly string[];
  /** The join token. Providers hand it over in the environment, never on a command line. */
  joinToken: string;
  slots: number;
  /** Pass --no-sandbox to the agent (no bubblewrap confinement of host tasks). */
  sandbox: boolean;
}

export interface AgentHandle {
  readonly name: string;
  /** What identifies the agent to a person, e.g. "pid 1234" or "container fleet-2". */
  readonly describe: string;
  /** The process id on this machine, when there is one. */
  readonly pid?: number;
  /** Settles when the agent has gone, for whatever reason, with a few words on how. */
  readonly exited: Promise<string>;
  /** SIGTERM: finish running tasks, take no new ones, then exit. Returns at once. */
  drain(): void;
  /** SIGINT: kill running tasks and give them back to the coordinator, then exit. Returns at once. */
  stopNow(): void;
}

export interface AgentProvider {
  readonly kind: string;
  /** Starts an agent called `name`; rejects when it could not be started at all. */
  start(name: string): Promise<AgentHandle>;
}

/** The agent's command-line arguments after `drover`, the same for every provider. */
export function agentArgs(spec: AgentSpec, name: string, workDir: string): string[] {
  const args = ['agent', '--server', spec.servers.join(','), '--slots', String(spec.slots), '--name', name, '--work-dir', workDir];
  if (!spec.sandbox) args.push('--no-sandbox');
  return args;
}
