// Confines a task with bubblewrap: the system read-only, the task directory writable, nothing else
// of the host visible (not the agent's work dir, blob cache, config, credentials or /root).
import { existsSync, lstatSync, mkdtempSync, readlinkSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { findExecutable } from '../../process/find-executable.js';
import type { ProcessSpec } from './process-spec.js';
import { lastLine, runCommand } from '../../process/run-command.js';
import { grantDirectoriesTo, NOBODY } from './task-dir-access.js';

export interface BwrapOptions {
  /** Absolute path of the task directory; mounted writable at the same path. */
  taskDir: string;
  /** Give the task the host's network. Off by default: a task gets only its own loopback. */
  network?: boolean;
}

/** Top-level system directories a program needs to run. Symlinks (merged /usr) are recreated as symlinks. */
const SYSTEM_PATHS = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32', '/opt'];

/**
 * The parts of /etc that programs (python, bash, blender, ffmpeg, chromium) read to work. An
 * allow-list on purpose: /etc also holds shadow, ssh host keys, npmrc/pip.conf with tokens, and the
 * like, none of which a task has any business reading.
 */
const ETC_ENTRIES = [
  'alternatives', // Debian's /usr/bin/* -> /etc/alternatives/* links (awk, python, editor...)
  'ld.so.cache',
  'ld.so.conf',
  'ld.so.conf.d',
  'passwd', // uid -> name lookups (python's getpass, bash's prompt); holds no secrets
  'group',
  'nsswitch.conf',
  'host.conf',
  'gai.conf',
  'hosts',
  'services',
  'protocols',
  'localtime',
  'timezone',
  'locale.alias',
  'os-release',
  'debian_version',
  'mime.types',
  'magic',
  'magic.mime',
  'terminfo',
  'fonts', // text in renders
  'ssl/certs', // CA bundle only: /etc/ssl/private stays out
  'ssl/openssl.cnf',
  'ca-certificates',
  'python3',
  'python3.11', // Debian's sitecustomize.py is a symlink into here
  'python3.12',
  'ImageMagick-6',
  'ImageMagick-7',
  'chromium',
  'chromium.d',
  'vulkan', // GPU renderers: ICD manifests
  'glvnd',
  'OpenCL',
];

/** Read only when the task has the network. */
const ETC_NETWORK_ENTRIES = ['resolv.conf'];

const SANDBOX_PATH_FALLBACK = '/usr/local/bin:/usr/bin:/bin';

interface BwrapSupport {
  available: boolean;
  /**
   * When the agent is root: the unprivileged user the task is switched to inside the sandbox
   * (setpriv, after bwrap has set up the mounts as root), or null when that does not work here.
   */
  dropTo: { uid: number; gid: number } | null;
  reason?: string;
}

let support: Promise<BwrapSupport> | undefined;
/** Set once the probe has finished, so confineWithBwrap (synchronous) can follow what works here. */
let knownSupport: BwrapSupport | undefined;

/**
 * Whether bubblewrap confinement works on this machine. Actually runs a trivial confined command,
 * built exactly as confineWithBwrap builds it, once per process; later calls return the cached answer.
 */
export function bwrapAvailable(): Promise<boolean> {
  support ??= probeBwrap().then((result) => {
    knownSupport = result;
    return result;
  });
  return support.then((s) => s.available);
}

/** Why bwrap is unavailable, or what it had to give up (after bwrapAvailable() resolved), for the agent's log. */
export function bwrapNote(): string | undefined {
  return knownSupport?.reason;
}

async function probeBwrap(): Promise<BwrapSupport> {
  if (findExecutable('bwrap') === null) return { available: false, dropTo: null, reason: 'bwrap is not installed' };
  // As root, prefer switching the task to nobody; fall back to root with no capabilities.
  const candidates: Array<BwrapSupport['dropTo']> = isRoot() ? [NOBODY, null] : [null];
  const failures: string[] = [];
  for (const dropTo of candidates) {
    const probeDir = mkdtempSync(join(tmpdir(), 'drover-bwrap-probe-'));
    try {
      const spec = buildConfinedSpec(
        { argv: ['sh', '-c', 'echo ok > probe.txt'], cwd: probeDir, env: { PATH: SANDBOX_PATH_FALLBACK } },
        { taskDir: probeDir },
        dropTo,
      );
      const [file, ...args] = spec.argv;
      const result = await runCommand(file!, args, { timeoutMs: 10_000, cwd: spec.cwd, env: spec.env });
      if (result.code === 0 && existsSync(join(probeDir, 'probe.txt'))) {
        const reason = failures.length > 0 ? `tasks run as root without capabilities: ${failures.join('; ')}` : undefined;
        return { available: true, dropTo, reason };
      }
      failures.push(result.spawnError?.message ?? (result.timedOut ? 'probe timed out' : lastLine(result.stderr)));
    } finally {
      rmSync(probeDir, { recursive: true, force: true });
    }
  }
  return { available: false, dropTo: null, reason: `bwrap cannot run a confined command here: ${failures.join('; ')}` };
}

function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/**
 * Wraps `spec` so it runs under bubblewrap. Call bwrapAvailable() first (the agent does, to choose
 * its isolation); without a finished probe, switching to nobody is assumed to work when running as root.
 *
 * When the agent runs as root, bwrap builds the sandbox as root (so it can reach a task directory
 * under a 0700 agent work dir) and then switches the task to nobody (65534) with no capabilities and
 * no-new-privs; the task directory's sub-directories are handed to nobody so it can write its
 * results. A root task would otherwise still have owner rights on every root-owned file it can see.
 * As a non-root agent, bwrap uses a user namespace and the task keeps the agent's uid.
 *
 * The returned spec runs bwrap itself; killing its process group ends the whole sandbox: bwrap's
 * --die-with-parent and the pid namespace take the task's processes down with it.
 */
export function confineWithBwrap(spec: ProcessSpec, opts: BwrapOptions): ProcessSpec {
  const dropTo = knownSupport ? knownSupport.dropTo : isRoot() ? NOBODY : null;
  return buildConfinedSpec(spec, opts, dropTo);
}

function buildConfinedSpec(spec: ProcessSpec, opts: BwrapOptions, dropTo: BwrapSupport['dropTo']): ProcessSpec {
  const taskDir = resolve(opts.taskDir);
  const requestedCwd = resolve(taskDir, spec.cwd);
  const cwd = isInside(requestedCwd, taskDir) ? requestedCwd : taskDir;
  const args: string[] = [];
  if (isRoot()) {
    // No user namespace as root: the task must end up as a real unprivileged host uid, which a
    // namespace mapping root to root would not give. Capabilities beyond these two are dropped by
    // bwrap, and setpriv drops these two before the task starts.
    args.push('--unshare-ipc', '--unshare-pid', '--unshare-uts', '--unshare-cgroup-try');
    if (!opts.network) args.push('--unshare-net');
    if (dropTo) args.push('--cap-add', 'CAP_SETUID', '--cap-add', 'CAP_SETGID');
  } else {
    args.push('--unshare-all');
    if (opts.network) args.push('--share-net');
  }
  // --die-with-parent: an agent that dies takes its tasks along. No --new-session on purpose: it
  // would move the task out of the process group the agent kills, leaving only bwrap's
  // parent-death signal to end it, and that is set up racily (a cancel right after the start left
  // sandboxes running in our tests). Its TIOCSTI protection does not apply: the agent spawns tasks
  // detached, without a controlling terminal, and with pipes for stdio.
  args.push('--die-with-parent', '--hostname', 'drover-task');

  // bwrap (as root) creates missing parent directories 0700, which nobody cannot traverse; so every
  // parent is created explicitly with the mode it needs.
  const made = new Set<string>(['/']);
  const mount = (mountArgs: string[], target: string, parentPerms = '0755'): void => {
    if (mountArgs.length === 0) return;
    args.push(...parentDirs(target, made, parentPerms), ...mountArgs);
    made.add(target);
  };
  for (const path of SYSTEM_PATHS) mount(mountSystemPath(path), path);
  const etc = [...ETC_ENTRIES, ...(opts.network ? ETC_NETWORK_ENTRIES : [])];
  for (const entry of etc) mount(mountSystemPath(`/etc/${entry}`), `/etc/${entry}`);
  // os.cpu_count() and friends read this; the rest of /sys stays hidden.
  mount(mountSystemPath('/sys/devices/system/cpu'), '/sys/devices/system/cpu');
  mount(['--proc', '/proc'], '/proc');
  // The sandbox's own mount table (not the host's): without it Blender's first log line of every
  // task is "could not get a list of mounted file-systems".
  mount(['--symlink', '/proc/self/mounts', '/etc/mtab'], '/etc/mtab');
  mount(['--dev', '/dev'], '/dev');
  mount(['--perms', '1777', '--tmpfs', '/tmp'], '/tmp');
  mount(['--perms', '1777', '--tmpfs', '/var/tmp'], '/var/tmp');
  // After /tmp's tmpfs, so a task dir under /tmp is mounted on top of the fresh, empty /tmp. Its
  // parents are search-only: they hold nothing but the way down to this task.
  mount(['--bind', taskDir, taskDir], taskDir, '0711');
  args.push('--chdir', cwd);

  args.push('--clearenv');
  for (const [key, value] of Object.entries(sandboxEnv(spec.env, taskDir))) args.push('--setenv', key, value);
  args.push('--');
  if (dropTo) {
    grantDirectoriesTo(taskDir, dropTo.uid, dropTo.gid);
    args.push(
      findExecutable('setpriv') ?? '/usr/bin/setpriv', // util-linux: under /usr, so visible inside
      `--reuid=${dropTo.uid}`,
      `--regid=${dropTo.gid}`,
      '--clear-groups',
      '--inh-caps=-all',
      '--bounding-set=-all',
      '--no-new-privs',
    );
  }
  args.push(...spec.argv);

  // The bwrap process itself needs no task environment: the task's comes through --setenv.
  const bwrap = findExecutable('bwrap') ?? 'bwrap';
  return { argv: [bwrap, ...args], cwd: taskDir, env: { PATH: process.env.PATH ?? SANDBOX_PATH_FALLBACK, LANG: 'C.UTF-8' } };
}

/** `--dir` arguments for the ancestors of `target` that the sandbox does not have yet. */
function parentDirs(target: string, made: Set<string>, perms: string): string[] {
  const out: string[] = [];
  const parts = target.split('/').filter((p) => p !== '');
  let current = '';
  for (const part of parts.slice(0, -1)) {
    current += `/${part}`;
    if (made.has(current)) continue;
    out.push('--perms', perms, '--dir', current);
    made.add(current);
  }
  return out;
}

/** Mount arguments for one host path, or none when it does not exist here. */
function mountSystemPath(path: string): string[] {
  let stat;
  try {
    stat = lstatSync(path);
  } catch {
    return [];
  }
  if (stat.isSymbolicLink()) {
    // Keep a link as a link when it points into the mounted system (merged /usr, /etc/localtime);
    // otherwise (e.g. resolv.conf -> /run/...) mount what it points at.
    const target = readlinkSync(path);
    const resolved = safeRealpath(path);
    if (resolved && isVisibleSystemPath(resolved)) return ['--symlink', target, path];
    return resolved ? ['--ro-bind-try', resolved, path] : [];
  }
  return ['--ro-bind-try', path, path];
}

function isVisibleSystemPath(path: string): boolean {
  return SYSTEM_PATHS.some((p) => isInside(path, p)) || ETC_ENTRIES.some((e) => isInside(path, `/etc/${e}`));
}

/**
 * The task's environment inside the sandbox. HOME usually points at the agent's home, which the
 * task cannot see; programs that write dot-files (blender, chromium) then fail, so it moves to /tmp.
 */
function sandboxEnv(env: Record<string, string>, taskDir: string): Record<string, string> {
  const out = { ...env };
  const home = out.HOME;
  if (home === undefined || !(isInside(home, taskDir) || isInside(home, '/tmp'))) out.HOME = '/tmp';
  out.PATH ??= SANDBOX_PATH_FALLBACK;
  return out;
}

function isInside(path: string, dir: string): boolean {
  const rel = relative(dir, path);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

function safeRealpath(path: string): string | null {
  try {
    return realpathSync(path);
  } catch {
    return null;
  }
}
