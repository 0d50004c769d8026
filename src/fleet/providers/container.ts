// Agents as containers of a local podman or docker engine:
//   <engine> run -d --rm --name <prefix>-N -e DROVER_AGENT_TOKEN … IMAGE drover agent …
// The image must contain drover (node and this package, `drover` on PATH); Drover publishes no
// such image, see docs/fleet.md. The token reaches the container through `-e NAME` without a
// value, which the engine copies from its own environment, so it is never on a command line (it
// does show in `<engine> inspect`, as any container environment does).
import { readFileSync } from 'node:fs';
import { findExecutable } from '../../process/find-executable.js';
import { lastLine, runCommand, type CommandResult } from '../../process/run-command.js';
import { agentArgs, type AgentHandle, type AgentProvider, type AgentSpec } from './provider.js';

export type Engine = 'podman' | 'docker';

export interface ContainerOptions {
  engine: Engine;
  image: string;
  /** The OCI runtime: podman's global `--runtime PATH`, docker's `run --runtime NAME`. */
  runtime?: string;
  /** `--network`; e.g. `host` when the coordinator URL is localhost. */
  network?: string;
  /** How long `<engine> stop` lets a draining agent finish its tasks before the engine kills it. */
  drainTimeoutSeconds: number;
  /** The engine program; by default found on PATH. */
  bin?: string;
}

/** Inside the container: the agent's cache and task directories, gone with the container. */
export const CONTAINER_WORK_DIR = '/var/lib/drover/agent';
/** Lets `<engine> ps --filter label=drover.fleet` find the fleet's containers. */
export const FLEET_LABEL = 'drover.fleet';

const CALL_TIMEOUT_MS = 60_000;
/** `run` may pull the image first. */
const RUN_TIMEOUT_MS = 15 * 60_000;
/** setTimeout's ceiling (about 24 days); `wait` blocks as long as the agent runs. */
const WAIT_TIMEOUT_MS = 2 ** 31 - 1;
const RECHECK_MS = 2_000;

/** Global flags before the subcommand (podman takes its runtime there). */
export function globalArgs(opts: Pick<ContainerOptions, 'engine' | 'runtime'>): string[] {
  return opts.engine === 'podman' && opts.runtime ? ['--runtime', opts.runtime] : [];
}

/** Open files and processes for the agent and its tasks, as the agent's own container engine asks. */
const WANTED_LIMITS = { nofile: 65_536, nproc: 4_096 };

/**
 * The engine's default rlimits can exceed this process's hard limits, and then runc refuses to
 * start the container ("error setting rlimits … operation not permitted", seen with rootless or
 * confined engines). Ask for no more than we have. `limitsText` is /proc/self/limits.
 */
export function ulimitArgs(limitsText: string): string[] {
  const hard = (label: string, wanted: number): number => {
    const value = limitsText.split('\n').find((l) => l.startsWith(label))?.slice(label.length).trim().split(/\s+/)[1];
    const n = Number(value);
    return value === undefined || value === 'unlimited' || !Number.isFinite(n) || n <= 0 ? wanted : Math.min(n, wanted);
  };
  const nofile = hard('Max open files', WANTED_LIMITS.nofile);
  const nproc = hard('Max processes', WANTED_LIMITS.nproc);
  return ['--ulimit', `nofile=${nofile}:${nofile}`, '--ulimit', `nproc=${nproc}:${nproc}`];
}

function ownLimits(): string {
  try {
    return readFileSync('/proc/self/limits', 'utf8');
  } catch {
    return ''; // Not Linux: ask for the wanted values.
  }
}

/** The `run` subcommand and its arguments (the global flags come before it). */
export function runArgs(opts: ContainerOptions, spec: AgentSpec, name: string, fleet: string, limitsText = ownLimits()): string[] {
  return [
    'run',
    '-d',
    '--rm',
    '--name',
    name,
    '--label',
    `${FLEET_LABEL}=${fleet}`,
    // Drain is SIGTERM, whatever STOPSIGNAL the image sets.
    '--stop-signal',
    'SIGTERM',
    '-e',
    'DROVER_AGENT_TOKEN',
    ...ulimitArgs(limitsText),
    ...(opts.engine === 'docker' && opts.runtime ? ['--runtime', opts.runtime] : []),
    ...(opts.network ? ['--network', opts.network] : []),
    opts.image,
    'drover',
    ...agentArgs(spec, name, CONTAINER_WORK_DIR),
  ];
}

export class ContainerProvider implements AgentProvider {
  readonly kind: Engine;
  private readonly bin: string;

  constructor(
    private readonly opts: ContainerOptions,
    private readonly spec: AgentSpec,
    /** The fleet's name prefix, put on every container as a label. */
    private readonly fleet: string,
  ) {
    this.kind = opts.engine;
    const bin = opts.bin ?? findExecutable(opts.engine);
    if (!bin) throw new Error(`${opts.engine} is not installed (not found on PATH)`);
    this.bin = bin;
  }

  private call(args: string[], timeoutMs = CALL_TIMEOUT_MS, withToken = false): Promise<CommandResult> {
    const env: NodeJS.ProcessEnv = { ...process.env };
    // Only `run` needs the token; other calls do not get it.
    if (withToken) env.DROVER_AGENT_TOKEN = this.spec.joinToken;
    else delete env.DROVER_AGENT_TOKEN;
    return runCommand(this.bin, [...globalArgs(this.opts), ...args], { timeoutMs, env });
  }

  async start(name: string): Promise<AgentHandle> {
    // A stopped container of a crashed earlier fleet would hold the name; plain `rm` (not -f)
    // never touches a running one, which may belong to another fleet.
    await this.call(['rm', name]);
    const run = await this.call(runArgs(this.opts, this.spec, name, this.fleet), RUN_TIMEOUT_MS, true);
    if (run.code !== 0) {
      const why = run.spawnError?.message ?? (run.timedOut ? 'timed out' : lastLine(run.stderr) || `exit code ${run.code}`);
      throw new Error(`${this.opts.engine} run ${name} failed: ${why}`);
    }
    const stop = (args: string[], timeoutMs?: number) => {
      void this.call([...args, name], timeoutMs).then((r) => {
        if (r.code !== 0) console.error(`[fleet] ${this.opts.engine} ${args[0]} ${name} failed: ${lastLine(r.stderr) || `exit code ${r.code}`}`);
      });
    };
    return {
      name,
      describe: `container ${name} (${run.stdout.trim().slice(0, 12)})`,
      exited: this.watch(name),
      drain: () => stop(['stop', '-t', String(this.opts.drainTimeoutSeconds)], (this.opts.drainTimeoutSeconds + 60) * 1000),
      stopNow: () => stop(['kill', '--signal', 'SIGINT']),
    };
  }

  /** Settles when the container is no longer running. */
  private async watch(name: string): Promise<string> {
    for (;;) {
      const waited = await this.call(['wait', name], WAIT_TIMEOUT_MS);
      if (waited.code === 0) return `exit code ${waited.stdout.trim().split('\n')[0] || '?'}`;
      // `wait` fails when --rm removed the container first (it has gone), but also when the engine
      // hiccups: ask whether it still runs before believing it gone.
      const inspect = await this.call(['inspect', '--format', '{{.State.Running}}', name]);
      if (inspect.code !== 0 || inspect.stdout.trim() !== 'true') return 'gone';
      await new Promise((r) => setTimeout(r, RECHECK_MS));
    }
  }
}
