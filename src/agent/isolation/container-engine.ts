// Runs tasks in containers (docker or podman) with the task directory as /local, no network by
// default, no capabilities, and the machine's share of CPU and memory.
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { isAbsolute, relative, resolve } from 'node:path';
import { findExecutable } from '../../process/find-executable.js';
import type { ProcessSpec } from './process-spec.js';
import { lastLine, runCommand } from '../../process/run-command.js';
import { grantDirectoriesTo, NOBODY } from './task-dir-access.js';

export type EngineName = 'docker' | 'podman';

export interface ContainerRunOptions {
  image: string;
  /** Absolute host path of the task directory; mounted as /local, the container's working dir. */
  taskDir: string;
  cores: number;
  memoryBytes?: number;
  /** Processes and threads the container may run at once (--pids-limit); WANTED_NPROC by default. */
  processes?: number;
  network: boolean;
  /** Unique container name, used by remove() to clean up after a killed run. */
  name: string;
  labels: Record<string, string>;
  /** uid:gid to run as; by default chosen so the task is unprivileged and its outputs are readable by the agent. */
  user?: string;
}

export class ImageNotFoundError extends Error {
  constructor(
    readonly image: string,
    readonly detail: string,
  ) {
    super(`container image "${image}" is not available locally and could not be pulled: ${detail}`);
    this.name = 'ImageNotFoundError';
  }
}

export class ContainerEngineError extends Error {
  override name = 'ContainerEngineError';
}

/** Where the task directory appears inside the container. */
export const CONTAINER_TASK_DIR = '/local';

const PROBE_TIMEOUT_MS = 8_000;
const ENGINE_CALL_TIMEOUT_MS = 60_000;
const DEFAULT_PULL_TIMEOUT_MS = 15 * 60_000;
/** Runc's default would ask for more than an unprivileged agent's hard limit; these stay below it. */
const WANTED_NOFILE = 65_536;
const WANTED_NPROC = 4_096;
/** PATH inside the container comes from the image, not from the agent's host. */
const HOST_ONLY_ENV = new Set(['PATH', 'HOME']);

interface EngineTraits {
  /** Extra global flags, e.g. podman's `--runtime /usr/sbin/runc`. */
  globalArgs: string[];
  /** The engine applies cgroup CPU/memory limits here. */
  limitsSupported: boolean;
  /** Container root is the agent's own uid on the host (rootless podman). */
  rootless: boolean;
  /** The engine has an init process to reap zombies and forward signals (`--init`). */
  hasInit: boolean;
}

export interface DetectOptions {
  /** For what detection found or had to give up (e.g. no cgroup limits). */
  log?: (line: string) => void;
  pullTimeoutMs?: number;
}

export class ContainerEngine {
  private readonly pulls = new Map<string, Promise<void>>();

  private constructor(
    readonly name: EngineName,
    private readonly bin: string,
    private readonly traits: EngineTraits,
    private readonly pullTimeoutMs: number,
  ) {}

  /** Whether --cpus/--memory are passed (false where the engine cannot apply cgroup limits). */
  get limitsSupported(): boolean {
    return this.traits.limitsSupported;
  }

  /**
   * Docker if its engine answers, else podman. `prefer` forces one engine and throws when it is unusable.
   * Resolves null when neither works.
   */
  static async detect(prefer?: EngineName, opts: DetectOptions = {}): Promise<ContainerEngine | null> {
    const log = opts.log ?? (() => {});
    const order: EngineName[] = prefer ? [prefer] : ['docker', 'podman'];
    const failures: string[] = [];
    for (const name of order) {
      const found = name === 'docker' ? await probeDocker() : await probePodman();
      if (typeof found === 'string') {
        failures.push(`${name}: ${found}`);
        continue;
      }
      const engine = new ContainerEngine(name, found.bin, found.traits, opts.pullTimeoutMs ?? DEFAULT_PULL_TIMEOUT_MS);
      log(`container engine: ${name}${found.traits.globalArgs.length ? ` (${found.traits.globalArgs.join(' ')})` : ''}${found.traits.rootless ? ', rootless' : ''}`);
      if (!found.traits.limitsSupported) log(`container engine: cgroup CPU/memory limits are unavailable here; tasks run without --cpus/--memory`);
      return engine;
    }
    if (prefer) throw new ContainerEngineError(`container engine ${prefer} is not usable: ${failures.join('; ')}`);
    log(`no container engine: ${failures.join('; ')}`);
    return null;
  }

  /**
   * Makes `ref` available locally: nothing when present, else one pull per agent (concurrent callers
   * share it), its output sent to `log`. Throws ImageNotFoundError when the image cannot be had.
   */
  ensureImage(ref: string, log: (line: string) => void): Promise<void> {
    let pending = this.pulls.get(ref);
    if (!pending) {
      pending = this.presentOrPull(ref, log);
      this.pulls.set(ref, pending);
      // A failure is not cached: the registry may come back, or the image be loaded by hand.
      pending.catch(() => this.pulls.delete(ref));
    }
    return pending;
  }

  private async presentOrPull(ref: string, log: (line: string) => void): Promise<void> {
    if (await this.imagePresent(ref)) return;
    log(`pulling image ${ref}`);
    const result = await this.run(['pull', ref], this.pullTimeoutMs, log);
    if (result.timedOut) throw new ImageNotFoundError(ref, `pull did not finish within ${Math.round(this.pullTimeoutMs / 1000)} s`);
    if (result.code !== 0) throw new ImageNotFoundError(ref, lastLine(result.stderr) || lastLine(result.stdout) || `${this.name} pull failed`);
  }

  private async imagePresent(ref: string): Promise<boolean> {
    const args = this.name === 'podman' ? ['image', 'exists', ref] : ['image', 'inspect', '--format', '{{.Id}}', ref];
    const result = await this.run(args, ENGINE_CALL_TIMEOUT_MS);
    return result.code === 0;
  }

  /**
   * The engine command that runs `spec` in a container. Paths in argv stay relative (the working
   * dir is /local); absolute ones under the task dir are rewritten to /local. The returned spec is
   * `<engine> run ...` in the foreground: killing its process group stops watching the container,
   * and remove(name) then makes sure the container itself is gone.
   */
  wrap(spec: ProcessSpec, opts: ContainerRunOptions): ProcessSpec {
    const taskDir = resolve(opts.taskDir);
    const args = [...this.traits.globalArgs, 'run', '--rm', '--name', opts.name, '--pull', 'never'];
    for (const [key, value] of Object.entries(opts.labels)) args.push('--label', `${key}=${value}`);
    args.push('-v', `${taskDir}:${CONTAINER_TASK_DIR}:rw`, '-w', toContainerPath(resolve(taskDir, spec.cwd), taskDir));
    // With network, the engine's default (a bridge, or slirp4netns when rootless) applies.
    if (!opts.network) args.push('--network', 'none');
    args.push('--cap-drop', 'ALL', '--security-opt', 'no-new-privileges');
    if (this.traits.hasInit) args.push('--init');
    if (this.traits.limitsSupported) {
      const cores = Math.min(Math.max(opts.cores, 0.01), availableParallelism());
      args.push('--cpus', String(cores), '--pids-limit', String(opts.processes ?? WANTED_NPROC));
      if (opts.memoryBytes) {
        // Swap equal to memory: the limit is a real limit, not memory plus as much again in swap.
        args.push('--memory', `${opts.memoryBytes}b`, '--memory-swap', `${opts.memoryBytes}b`);
      }
    }
    const limits = hardLimits();
    args.push('--ulimit', `nofile=${limits.nofile}:${limits.nofile}`, '--ulimit', `nproc=${limits.nproc}:${limits.nproc}`);
    args.push('--user', opts.user ?? this.defaultUser(taskDir));

    const env: Record<string, string> = { HOME: '/tmp' };
    for (const [key, value] of Object.entries(spec.env)) {
      if (!HOST_ONLY_ENV.has(key)) env[key] = rewriteTaskPath(value, taskDir);
    }
    for (const [key, value] of Object.entries(env)) args.push('-e', `${key}=${value}`);

    args.push(opts.image, ...spec.argv.map((arg) => rewriteTaskPath(arg, taskDir)));
    return { argv: [this.bin, ...args], cwd: taskDir, env: engineClientEnv() };
  }

  /**
   * Who the task runs as. Rootless podman: container root, which is the agent's own uid on the host
   * (so outputs belong to the agent). A rootful engine with a non-root agent: the agent's uid:gid.
   * A rootful engine with a root agent: nobody, with the task's directories handed to it, so the
   * task never holds root on the host's files.
   */
  private defaultUser(taskDir: string): string {
    if (this.traits.rootless) return '0:0';
    const uid = process.getuid?.() ?? 0;
    const gid = process.getgid?.() ?? 0;
    if (uid !== 0) return `${uid}:${gid}`;
    grantDirectoriesTo(taskDir, NOBODY.uid, NOBODY.gid);
    return `${NOBODY.uid}:${NOBODY.gid}`;
  }

  /** Force-removes a container (stopping it if it runs); a container that does not exist is fine. */
  async remove(name: string): Promise<void> {
    const args = this.name === 'podman' ? ['rm', '--force', '--ignore', '--time', '0', name] : ['rm', '--force', name];
    const result = await this.run(args, ENGINE_CALL_TIMEOUT_MS);
    if (result.code === 0 || /no such container/i.test(result.stderr)) return;
    throw new ContainerEngineError(`could not remove container ${name}: ${lastLine(result.stderr) || 'timed out'}`);
  }

  /** Removes every container carrying all of `labels` (this agent's), e.g. at shutdown and startup. */
  async removeAll(labels: Record<string, string>): Promise<void> {
    const filters = Object.entries(labels).flatMap(([key, value]) => ['--filter', `label=${key}=${value}`]);
    if (filters.length === 0) throw new ContainerEngineError('removeAll needs at least one label: it would remove every container');
    const listed = await this.run(['ps', '--all', '--quiet', ...filters], ENGINE_CALL_TIMEOUT_MS);
    if (listed.code !== 0) throw new ContainerEngineError(`could not list containers: ${lastLine(listed.stderr) || 'timed out'}`);
    const ids = listed.stdout.split('\n').map((l) => l.trim()).filter((l) => l !== '');
    for (const id of ids) await this.remove(id);
  }

  private run(args: string[], timeoutMs: number, onLine?: (line: string) => void) {
    return runCommand(this.bin, [...this.traits.globalArgs, ...args], { timeoutMs, env: engineClientEnv(), onLine });
  }
}

async function probeDocker(): Promise<{ bin: string; traits: EngineTraits } | string> {
  const bin = findExecutable('docker');
  if (!bin) return 'not installed';
  // The client alone proves nothing: ask the engine, briefly.
  const info = await runCommand(bin, ['info', '--format', '{{json .}}'], { timeoutMs: PROBE_TIMEOUT_MS, env: engineClientEnv() });
  if (info.code !== 0) return info.timedOut ? 'engine did not answer in time' : `engine not answering: ${lastLine(info.stderr)}`;
  let parsed: { CgroupDriver?: string; MemoryLimit?: boolean; CpuCfsQuota?: boolean; SecurityOptions?: string[] } = {};
  try {
    parsed = JSON.parse(info.stdout) as typeof parsed;
  } catch {
    // Old or odd output: assume the common case.
  }
  return {
    bin,
    traits: {
      globalArgs: [],
      limitsSupported: parsed.MemoryLimit !== false && parsed.CpuCfsQuota !== false,
      rootless: (parsed.SecurityOptions ?? []).some((o) => o.includes('rootless')),
      hasInit: true, // docker ships docker-init
    },
  };
}

interface PodmanInfo {
  host?: {
    cgroupVersion?: string;
    cgroupControllers?: string[];
    security?: { rootless?: boolean };
    ociRuntime?: { name?: string; path?: string };
  };
}

async function probePodman(): Promise<{ bin: string; traits: EngineTraits } | string> {
  const bin = findExecutable('podman');
  if (!bin) return 'not installed';
  // podman's default runtime (crun) fails on some hosts' cgroups where runc works; runc is the
  // safer choice whenever it is installed.
  const runc = findExecutable('runc');
  const globalArgs = runc ? ['--runtime', runc] : [];
  const info = await runCommand(bin, [...globalArgs, 'info', '--format', 'json'], { timeoutMs: 30_000, env: engineClientEnv() });
  if (info.code !== 0) return info.timedOut ? 'podman info did not answer in time' : `podman info failed: ${lastLine(info.stderr)}`;
  let parsed: PodmanInfo;
  try {
    parsed = JSON.parse(info.stdout) as PodmanInfo;
  } catch {
    return 'podman info printed no JSON';
  }
  const rootless = parsed.host?.security?.rootless === true;
  const controllers = parsed.host?.cgroupControllers ?? [];
  // Rootless podman cannot set limits on cgroup v1, and on v2 only for delegated controllers.
  const limitsSupported =
    ['cpu', 'memory', 'pids'].every((c) => controllers.includes(c)) && !(rootless && parsed.host?.cgroupVersion === 'v1');
  return { bin, traits: { globalArgs, limitsSupported, rootless, hasInit: podmanHasInit() } };
}

/** podman's --init needs catatonit at its configured path (Debian: package catatonit). */
function podmanHasInit(): boolean {
  return ['/usr/libexec/podman/catatonit', '/usr/lib/podman/catatonit'].some((path) => existsSync(path));
}

/** The engine client's own environment: the agent's PATH (to find runc, conmon) without the agent's other variables. */
function engineClientEnv(): Record<string, string> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin', LANG: 'C.UTF-8' };
  for (const key of ['HOME', 'XDG_RUNTIME_DIR', 'DOCKER_HOST', 'CONTAINER_HOST', 'DOCKER_CONFIG', 'REGISTRY_AUTH_FILE']) {
    const value = process.env[key];
    if (value !== undefined) env[key] = value;
  }
  return env;
}

/** Hard resource limits of this process: the most a container started by it may be given. */
function hardLimits(): { nofile: number; nproc: number } {
  let text = '';
  try {
    text = readFileSync('/proc/self/limits', 'utf8');
  } catch {
    // Not Linux: keep the wanted values.
  }
  const hard = (label: string, wanted: number): number => {
    const line = text.split('\n').find((l) => l.startsWith(label));
    const value = line?.slice(label.length).trim().split(/\s+/)[1];
    if (value === undefined || value === 'unlimited') return wanted;
    const n = Number(value);
    return Number.isFinite(n) && n > 0 ? Math.min(n, wanted) : wanted;
  };
  return { nofile: hard('Max open files', WANTED_NOFILE), nproc: hard('Max processes', WANTED_NPROC) };
}

function toContainerPath(path: string, taskDir: string): string {
  const rel = relative(taskDir, path);
  if (rel === '') return CONTAINER_TASK_DIR;
  if (rel.startsWith('..') || isAbsolute(rel)) return CONTAINER_TASK_DIR;
  return `${CONTAINER_TASK_DIR}/${rel}`;
}

/** An absolute host path inside the task dir, as the container sees it; anything else unchanged. */
function rewriteTaskPath(value: string, taskDir: string): string {
  if (value === taskDir) return CONTAINER_TASK_DIR;
  if (value.startsWith(`${taskDir}/`)) return `${CONTAINER_TASK_DIR}/${value.slice(taskDir.length + 1)}`;
  return value;
}
