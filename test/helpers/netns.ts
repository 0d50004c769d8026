// Several "hosts" on one machine for end-to-end tests: each host is a network namespace joined to a
// Linux bridge by a veth pair, on a private /24. A process runs on a host through
// `ip netns exec NS …` (see `wrap`); the test process itself stays in the root namespace and
// reaches the hosts through the bridge's address. Cutting a host off sets the bridge end of its
// veth down: the host keeps its address and routes, but nothing it sends arrives anywhere (a pulled
// cable, a dead switch port), so its open TCP connections hang rather than fail at once.
//
// Every name carries the test process's pid, and `teardown` (also run on process exit) removes
// exactly what this lab created: never another interface or namespace.
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

async function ip(...args: string[]): Promise<string> {
  try {
    const { stdout } = await run('ip', args, { timeout: 10_000 });
    return stdout;
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new Error(`ip ${args.join(' ')} failed: ${(e.stderr ?? e.message).trim()}`);
  }
}

/**
 * Why the lab cannot be built here, or null when it can: needs root and a working `ip netns`
 * (tried by creating and deleting a namespace of its own, and a bridge).
 */
export function netnsUnavailable(): string | null {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (process.getuid?.() !== 0) return 'network namespaces need root (run the suite as root)';
  const probe = `drover-probe-${process.pid}`;
  const bridge = `drvp${process.pid}`;
  try {
    execFileSync('ip', ['netns', 'add', probe], { stdio: 'pipe' });
  } catch (err) {
    return `\`ip netns add\` does not work here: ${String((err as { stderr?: Buffer }).stderr ?? (err as Error).message).trim()}`;
  }
  try {
    execFileSync('ip', ['netns', 'exec', probe, 'ip', 'link', 'set', 'lo', 'up'], { stdio: 'pipe' });
    execFileSync('ip', ['link', 'add', bridge, 'type', 'bridge'], { stdio: 'pipe' });
    execFileSync('ip', ['link', 'del', bridge], { stdio: 'pipe' });
  } catch (err) {
    return `network namespaces or bridges do not work here: ${String((err as { stderr?: Buffer }).stderr ?? (err as Error).message).trim()}`;
  } finally {
    try {
      execFileSync('ip', ['netns', 'del', probe], { stdio: 'pipe' });
    } catch {
      // already gone
    }
  }
  return null;
}

export interface NetHost {
  /** The short name given by the test (e.g. "coord", "a"). */
  label: string;
  /** The network namespace. */
  ns: string;
  /** The host's address on the lab network. */
  address: string;
  /** The bridge (root namespace) end of the host's veth: down means cut off. */
  link: string;
  /** Prefix for a command run on this host: `[...wrap, cmd, ...args]`. */
  wrap: string[];
}

/** A private /24 not otherwise in use on this machine, so the lab's route clashes with nothing. */
async function freeSubnet(): Promise<string> {
  const used = await ip('-4', 'route', 'show');
  const addrs = await ip('-4', '-o', 'addr', 'show');
  for (let i = 0; i < 200; i++) {
    const x = 20 + ((process.pid + i) % 200);
    const prefix = `10.213.${x}.`;
    if (!used.includes(prefix) && !addrs.includes(prefix)) return prefix;
  }
  throw new Error('no free 10.213.X.0/24 subnet for the network lab');
}

export class NetLab {
  readonly bridge: string;
  readonly hosts = new Map<string, NetHost>();
  /** The root namespace's address on the lab network (the bridge's). */
  gateway = '';
  private prefix = '';
  private created = { bridge: false, namespaces: [] as string[], links: [] as string[] };
  private readonly onExit = () => this.teardownSync();

  private constructor(private readonly tag: string) {
    this.bridge = `drv${tag}br`;
    process.on('exit', this.onExit);
  }

  /** Builds the bridge and one namespace per label, all up and able to reach each other. */
  static async create(labels: string[]): Promise<NetLab> {
    const lab = new NetLab(String(process.pid));
    try {
      await lab.build(labels);
    } catch (err) {
      await lab.teardown();
      throw err;
    }
    return lab;
  }

  private async build(labels: string[]): Promise<void> {
    this.prefix = await freeSubnet();
    this.gateway = `${this.prefix}1`;
    await ip('link', 'add', this.bridge, 'type', 'bridge');
    this.created.bridge = true;
    await ip('addr', 'add', `${this.gateway}/24`, 'dev', this.bridge);
    await ip('link', 'set', this.bridge, 'up');
    for (const [i, label] of labels.entries()) {
      const ns = `drover-${this.tag}-${label}`;
      const link = `drv${this.tag}v${i}`; // at most 15 characters: "drv" + pid (<= 7) + "v" + index
      const address = `${this.prefix}${10 + i}`;
      await ip('netns', 'add', ns);
      this.created.namespaces.push(ns);
      // The host's end is created inside the namespace (as eth0), so no name there clashes with ours.
      await ip('link', 'add', link, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
      this.created.links.push(link);
      await ip('link', 'set', link, 'master', this.bridge);
      await ip('link', 'set', link, 'up');
      await ip('-n', ns, 'link', 'set', 'lo', 'up');
      await ip('-n', ns, 'addr', 'add', `${address}/24`, 'dev', 'eth0');
      await ip('-n', ns, 'link', 'set', 'eth0', 'up');
      this.hosts.set(label, { label, ns, address, link, wrap: ['ip', 'netns', 'exec', ns] });
    }
  }

  host(label: string): NetHost {
    const h = this.hosts.get(label);
    if (!h) throw new Error(`no host ${label} in the lab`);
    return h;
  }

  /** Cuts a host off the network: what it sends is dropped, nothing reaches it. */
  async cut(label: string): Promise<void> {
    await ip('link', 'set', this.host(label).link, 'down');
  }

  /** Plugs a cut-off host back in. */
  async reconnect(label: string): Promise<void> {
    await ip('link', 'set', this.host(label).link, 'up');
  }

  /**
   * Removes the namespaces (and with them the host ends of the veths), the bridge ends and the
   * bridge. Kill the processes running on the hosts first: a namespace outlives its name while a
   * process is still in it.
   */
  async teardown(): Promise<void> {
    const problems: string[] = [];
    const attempt = async (...args: string[]) => {
      try {
        await ip(...args);
      } catch (err) {
        problems.push((err as Error).message);
      }
    };
    for (const ns of this.created.namespaces.splice(0)) await attempt('netns', 'del', ns);
    // Deleting a namespace deletes its veth ends and so their peers; a link left is deleted here.
    // The kernel removes those peers asynchronously: one seen a moment ago may be gone by the time
    // it is deleted, which is the state wanted, not a problem.
    for (const link of this.created.links.splice(0)) {
      if (!(await run('ip', ['link', 'show', link]).then(() => true, () => false))) continue;
      try {
        await ip('link', 'del', link);
      } catch (err) {
        if (!/Cannot find device/.test((err as Error).message)) problems.push((err as Error).message);
      }
    }
    if (this.created.bridge) {
      this.created.bridge = false;
      await attempt('link', 'del', this.bridge);
    }
    process.off('exit', this.onExit);
    if (problems.length > 0) throw new Error(`network lab teardown: ${problems.join('; ')}`);
  }

  /** The same, synchronously, for a process that exits without running `after` hooks. */
  private teardownSync(): void {
    const quiet = (...args: string[]) => {
      try {
        execFileSync('ip', args, { stdio: 'ignore' });
      } catch {
        // already gone
      }
    };
    for (const ns of this.created.namespaces.splice(0)) quiet('netns', 'del', ns);
    for (const link of this.created.links.splice(0)) quiet('link', 'del', link);
    if (this.created.bridge) quiet('link', 'del', this.bridge);
    this.created.bridge = false;
  }
}
