// The agent's settings: its flags (`drover agent …`) and the DROVER_* environment variables it
// reads, read and checked here once, with their defaults; the rest of the agent takes an AgentConfig.
import { availableParallelism, hostname, totalmem } from 'node:os';
import { join } from 'node:path';
import { defaultDataDir } from '../data-dir.js';
import { ConfigError, envNumber, envSecondsOrZero } from '../env-settings.js';

export { ConfigError };

/** The flags of `drover agent`, as the command line gave them. */
export interface AgentFlags {
  /** Coordinator URLs, comma-separated (replicas, tried in turn). */
  server: string;
  /** The join token; DROVER_AGENT_TOKEN when not given. */
  token?: string;
  slots?: number;
  prefetch?: number;
  name?: string;
  workDir?: string;
  /** KEY=VALUE each. */
  label?: string[];
  gpus?: number;
  sandbox?: boolean;
  engine?: string;
  taskProcesses?: number;
}

/** Warm Blender sessions for render jobs (docs/warm-sessions.md). */
/** When an agent keeps a spare Blender started (see PoolOptions.spare in warm/session-pool.ts). */
export type SpareMode = 'off' | 'after-render' | 'at-start';

export interface WarmSettings {
  /** Close a session idle this long (DROVER_WARM_IDLE_SECONDS, default 60). */
  idleSeconds: number;
  /** Start afresh after this many frames (DROVER_WARM_MAX_FRAMES, default 1000). */
  maxFrames: number;
  /** Retire a session whose Blender uses more (DROVER_WARM_MAX_RSS_MB, default half the machine). */
  maxRssMb: number;
  /** Most sessions at once (DROVER_WARM_MAX_SESSIONS, default the agent's slots). */
  maxSessions: number;
  /**
   * When to keep a spare Blender started (DROVER_WARM_SPARE): once the agent has rendered (unset or
   * 1), from the moment it joins (`start`: a render node), never (0).
   */
  spare: SpareMode;
}

export interface AgentConfig {
  servers: string[];
  joinToken: string;
  /** The name shown for this agent (default the host name). */
  name: string;
  /** Cores it offers to tasks (default all of the machine's). */
  slots: number;
  /**
   * Tasks to hold besides those running, each started the moment cores free: hides the round trip
   * to the coordinator between short tasks (default 0). The coordinator fills an agent's hold (what
   * it runs and what waits) up to its slots, one waiting task and its share of the queue (queued /
   * online agents), so near a queue's end a held task does not wait behind a busy agent's current
   * one while another agent idles.
   */
  prefetch: number;
  /** Its cache, task directories and identity (default DATA/agent). */
  workDir: string;
  labels: Record<string, string>;
  /** GPUs it offers (`--gpus N`); detected with nvidia-smi when not given. */
  gpus?: number;
  /** Confine host tasks with bubblewrap where it works (`--no-sandbox`: never). */
  sandbox: boolean;
  /** The container engine for jobs that name an image (default: whichever works). */
  engine?: 'docker' | 'podman';
  /** Processes and threads each task may run at once (default: the launcher's). */
  taskProcesses?: number;
  /** How long an idle OpenJD session stays open (DROVER_SESSION_IDLE_SECONDS, default 60). */
  sessionIdleSeconds: number;
  /** Live log shipped per attempt (DROVER_LOG_LIMIT_BYTES, default 16 MiB). */
  logLimitBytes: number;
  /** stdout.txt / stderr.txt kept per attempt (DROVER_OUTPUT_LIMIT_BYTES, default 1 GiB). */
  outputFileLimitBytes: number;
  /** Keep finished tasks' directories for inspection (DROVER_KEEP_TASK_DIRS=1). */
  keepTaskDirs: boolean;
  /** How long to wait for an agent online under the same name to go (DROVER_AGENT_NAME_WAIT_SECONDS, default 90). */
  nameWaitSeconds: number;
  /** Warm Blender sessions, or false to render every task with its own Blender (DROVER_WARM=0). */
  warm: WarmSettings | false;
}

/** The agent's settings from its flags and the environment; a ConfigError names the first that cannot be used. */
export function agentConfig(flags: AgentFlags): AgentConfig {
  const joinToken = flags.token ?? process.env.DROVER_AGENT_TOKEN;
  if (!joinToken) throw new ConfigError('give the agent join token with --token or DROVER_AGENT_TOKEN (the coordinator keeps it in DATA/agent-token)');
  if (flags.engine !== undefined && flags.engine !== 'docker' && flags.engine !== 'podman') throw new ConfigError('--engine is docker or podman');
  const slots = flags.slots || availableParallelism();
  return {
    servers: flags.server.split(',').map((s) => s.trim().replace(/\/+$/, '')),
    joinToken,
    name: flags.name ?? hostname(),
    slots,
    prefetch: flags.prefetch ?? 0,
    workDir: flags.workDir ?? defaultAgentWorkDir(),
    labels: parseLabels(flags.label ?? []),
    ...(flags.gpus !== undefined ? { gpus: flags.gpus } : {}),
    sandbox: flags.sandbox ?? true,
    ...(flags.engine ? { engine: flags.engine } : {}),
    ...(flags.taskProcesses ? { taskProcesses: flags.taskProcesses } : {}),
    sessionIdleSeconds: envNumber('DROVER_SESSION_IDLE_SECONDS', 60),
    logLimitBytes: envNumber('DROVER_LOG_LIMIT_BYTES', 16 * 1024 ** 2),
    outputFileLimitBytes: envNumber('DROVER_OUTPUT_LIMIT_BYTES', 1024 ** 3),
    keepTaskDirs: process.env.DROVER_KEEP_TASK_DIRS === '1',
    nameWaitSeconds: envSecondsOrZero('DROVER_AGENT_NAME_WAIT_SECONDS', 90),
    warm: process.env.DROVER_WARM === '0' ? false : warmSettings(slots),
  };
}

/** Where an agent keeps its files unless told (`--work-dir`). */
export function defaultAgentWorkDir(): string {
  return join(defaultDataDir(), 'agent');
}

function warmSettings(slots: number): WarmSettings {
  return {
    idleSeconds: envNumber('DROVER_WARM_IDLE_SECONDS', 60),
    maxFrames: envNumber('DROVER_WARM_MAX_FRAMES', 1000),
    maxRssMb: envNumber('DROVER_WARM_MAX_RSS_MB', Math.round(totalmem() / 1024 ** 2 / 2)),
    maxSessions: envNumber('DROVER_WARM_MAX_SESSIONS', slots),
    spare: spareMode(process.env.DROVER_WARM_SPARE),
  };
}

function spareMode(value: string | undefined): SpareMode {
  if (value === undefined || value === '' || value === '1') return 'after-render';
  if (value === '0') return 'off';
  if (value === 'start') return 'at-start';
  throw new ConfigError(`DROVER_WARM_SPARE is 0, 1 or start, not "${value}"`);
}

/** `--label KEY=VALUE`, each; the value may itself hold `=`. */
function parseLabels(pairs: readonly string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const pair of pairs) {
    const [key, ...value] = pair.split('=');
    if (!key || value.length === 0) throw new ConfigError(`--label takes KEY=VALUE, not "${pair}"`);
    labels[key] = value.join('=');
  }
  return labels;
}
